// The article editor: live preview, autosave, image insertion, confirmations.
// Loaded as a file (the admin CSP allows no inline script). Everything degrades: without this
// script the form still saves, publishes and schedules.
(function () {
  "use strict";

  // Buttons and links that ask first (trash, delete) carry data-confirm, on every admin page
  // that loads this script.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  var form = document.getElementById("editor");
  if (!form) return;
  var csrf = form.getAttribute("data-csrf");
  var body = document.getElementById("body");
  var title = document.getElementById("title");
  var excerpt = document.getElementById("excerpt");
  var preview = document.getElementById("preview");
  var status = document.getElementById("autosave-status");

  // --- live preview: the server renders and sanitises, exactly as the site does ---
  var previewTimer = null;
  var previewSeq = 0;
  function refreshPreview() {
    var seq = ++previewSeq;
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/plain; charset=utf-8", "X-CSRF-Token": csrf },
      body: body.value,
    })
      .then(function (response) {
        if (!response.ok) throw new Error("preview failed: " + response.status);
        return response.text();
      })
      .then(function (html) {
        // A slower answer to an older request must not overwrite a newer one.
        if (seq === previewSeq) preview.innerHTML = html;
      })
      .catch(function () {
        if (seq === previewSeq) preview.textContent = "The preview is not available right now.";
      });
  }
  body.addEventListener("input", function () {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 300);
  });
  refreshPreview();

  // --- autosave every 15 s while the text changes; kept apart from the saved article ---
  var autosaveUrl = form.getAttribute("data-autosave-url");
  var dirty = false;
  var submitting = false;
  [title, excerpt, body].forEach(function (field) {
    field.addEventListener("input", function () {
      dirty = true;
    });
  });
  form.addEventListener("submit", function () {
    submitting = true;
  });
  // A new article is saved as a draft at its first autosave (once it has a title); from then
  // on the form and the autosaves go to that article.
  var autosaveNewUrl = form.getAttribute("data-autosave-new-url");
  function autosaveRequest() {
    if (autosaveUrl) {
      var data = new URLSearchParams();
      data.set("csrf", csrf);
      data.set("title", title.value);
      data.set("excerpt", excerpt.value);
      data.set("body", body.value);
      return fetch(autosaveUrl, { method: "POST", credentials: "same-origin", body: data });
    }
    var all = new URLSearchParams(new FormData(form));
    all.delete("action");
    return fetch(autosaveNewUrl, { method: "POST", credentials: "same-origin", body: all });
  }
  if (autosaveUrl || autosaveNewUrl) {
    setInterval(function () {
      if (!dirty || submitting || (!autosaveUrl && !title.value.trim())) return;
      dirty = false;
      autosaveRequest()
        .then(function (response) {
          return response.json().then(function (json) {
            if (!response.ok) throw new Error((json.error && json.error.message) || response.status);
            return json;
          });
        })
        .then(function (json) {
          if (json.autosave_url) {
            autosaveUrl = json.autosave_url;
            form.action = json.url;
            history.replaceState(null, "", json.url);
          }
          var at = new Date(json.saved_at * 1000);
          status.textContent = (json.id ? "Draft saved at " : "Autosaved at ") + at.toLocaleTimeString();
        })
        .catch(function (err) {
          dirty = true;
          status.textContent = "Autosave failed: " + err.message;
        });
    }, 15000);
  }
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !submitting) event.preventDefault();
  });

  // --- images: upload or pick from the media library, insert ![alt](url) ---
  var dialog = document.getElementById("image-dialog");
  var insertButton = document.getElementById("insert-image");
  var pickFeatured = document.getElementById("pick-featured");
  var featured = document.getElementById("featured_image");
  var featuredPreview = document.getElementById("featured-preview");
  if (!dialog) return;
  var fileInput = document.getElementById("image-file");
  var altInput = document.getElementById("image-alt");
  var urlInput = document.getElementById("image-url");
  var library = document.getElementById("image-library");
  var errorBox = document.getElementById("image-error");
  var mode = "insert";

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function markdownImage(alt, url) {
    var safeAlt = alt.replace(/[\[\]\\]/g, "\\$&");
    return "![" + safeAlt + "](" + url.replace(/[()\s]/g, encodeURIComponent) + ")";
  }

  function insertAtCursor(text) {
    var start = body.selectionStart;
    var end = body.selectionEnd;
    var before = body.value.slice(0, start);
    var pad = before && !before.endsWith("\n\n") ? (before.endsWith("\n") ? "\n" : "\n\n") : "";
    body.value = before + pad + text + "\n" + body.value.slice(end);
    body.selectionStart = body.selectionEnd = start + pad.length + text.length + 1;
    body.dispatchEvent(new Event("input"));
    body.focus();
  }

  function use(url, alt) {
    if (mode === "featured") {
      featured.value = url;
      featuredPreview.src = url;
      featuredPreview.hidden = false;
      dirty = true;
    } else {
      insertAtCursor(markdownImage(alt, url));
    }
    dialog.close();
  }

  function loadLibrary() {
    library.textContent = "Loading the library…";
    fetch("/admin/media.json", { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (json) {
        library.textContent = "";
        json.items.forEach(function (item) {
          var button = document.createElement("button");
          button.type = "button";
          button.className = "library-item";
          button.title = item.alt || item.name;
          var img = document.createElement("img");
          img.src = item.url;
          img.alt = item.alt || "";
          img.loading = "lazy";
          button.appendChild(img);
          button.addEventListener("click", function () {
            use(item.url, altInput.value || item.alt || "");
          });
          library.appendChild(button);
        });
        if (!json.items.length) library.textContent = "The library is empty: upload a file above.";
      })
      .catch(function () {
        library.textContent = "The media library is not available; give an image's address instead.";
      });
  }

  function open(which) {
    mode = which;
    showError("");
    fileInput.value = "";
    urlInput.value = "";
    dialog.showModal();
    loadLibrary();
  }
  if (insertButton) insertButton.addEventListener("click", function () { open("insert"); });
  if (pickFeatured) pickFeatured.addEventListener("click", function () { open("featured"); });
  document.getElementById("image-cancel").addEventListener("click", function () { dialog.close(); });
  featured.addEventListener("change", function () {
    featuredPreview.hidden = !featured.value;
    if (featured.value) featuredPreview.src = featured.value;
  });

  document.getElementById("image-insert").addEventListener("click", function () {
    showError("");
    var alt = altInput.value.trim();
    if (fileInput.files.length) {
      var data = new FormData();
      data.append("csrf", csrf);
      data.append("alt", alt);
      data.append("file", fileInput.files[0]);
      fetch("/admin/media.json", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
        body: data,
      })
        .then(function (response) {
          return response.json().then(function (json) {
            if (!response.ok) throw new Error((json.error && json.error.message) || "upload failed");
            return json;
          });
        })
        .then(function (json) {
          use(json.item.url, alt || json.item.alt || "");
        })
        .catch(function (err) {
          showError(err.message);
        });
    } else if (urlInput.value.trim()) {
      use(urlInput.value.trim(), alt);
    } else {
      showError("Choose a file, an image from the library, or give an address.");
    }
  });
})();
