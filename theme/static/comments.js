// Progressive enhancement for the comment form (the form works without it): "Reply" moves the
// form under the comment instead of loading the reply page, and a form is sent only once.
(function () {
  "use strict";
  var respond = document.getElementById("respond");
  var form = document.getElementById("commentform");
  if (!respond || !form) return;
  var parent = document.getElementById("comment_parent");
  var title = document.getElementById("reply-title");
  var cancel = document.getElementById("cancel-comment-reply-link");
  var home = document.createElement("div");
  home.id = "respond-home";
  home.hidden = true;
  respond.parentNode.insertBefore(home, respond);
  var originalTitle = title ? title.firstChild.textContent : "";

  function place(commentId, author) {
    var comment = commentId && document.getElementById("comment-" + commentId);
    if (comment) {
      comment.querySelector(".comment-body").after(respond);
      parent.value = commentId;
      title.firstChild.textContent = "Reply to " + author + " ";
      cancel.hidden = false;
    } else {
      home.after(respond);
      parent.value = "0";
      title.firstChild.textContent = originalTitle;
      cancel.hidden = true;
    }
    var text = document.getElementById("comment");
    if (text) text.focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".comment-reply-link");
    if (link) {
      event.preventDefault();
      place(link.dataset.comment, link.dataset.author);
    } else if (event.target === cancel && parent.value !== "0" && !location.pathname.includes("/reply/")) {
      event.preventDefault();
      place(null);
    }
  });

  form.addEventListener("submit", function () {
    var button = document.getElementById("submit");
    if (button) setTimeout(function () { button.disabled = true; }, 0);
  });
})();
