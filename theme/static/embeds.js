// Click-to-load embeds (content::embeds): the page names the provider's player only in a
// data attribute, so nothing is fetched from the provider until the reader clicks the link;
// then the player replaces the placeholder. Without JS the link simply opens the post.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("figure.embed[data-player] > a") : null;
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const figure = link.parentElement;
  let player;
  try {
    player = new URL(figure.dataset.player);
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
  figure.classList.add("embed-loaded");
  figure.replaceChildren(frame);
  frame.focus();
});
