// Click-to-load embeds (content::embeds): the page names the provider's player only in a
// data attribute, so nothing is fetched from the provider until the reader clicks the link;
// then the player replaces the placeholder. Without JS the link simply opens the post.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest(".embed[data-player] > a") : null;
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const placeholder = link.parentElement;
  let player;
  try {
    player = new URL(placeholder.dataset.player);
  } catch {
    return;
  }
  if (player.protocol !== "https:") return;
  event.preventDefault();
  const frame = document.createElement("iframe");
  frame.src = player.href;
  frame.title = link.textContent.trim();
  frame.allow = "autoplay; encrypted-media; fullscreen; picture-in-picture";
  frame.allowFullscreen = true;
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  frame.loading = "eager";
  placeholder.classList.add("embed-loaded");
  placeholder.replaceChildren(frame);
  frame.focus();
});
