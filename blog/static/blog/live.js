// A post's like count, live: an EventSource on /blog/<id>/events/ and a Like
// button that POSTs to the API. No library.
"use strict";

(() => {
  const likes = document.getElementById("likes");
  const count = document.getElementById("like-count");
  const status = document.getElementById("live-status");
  const button = document.getElementById("like");
  if (!likes) return;

  function show(value) {
    // Counts only go up: an older event arriving late never lowers the count.
    if (Number(value) > Number(count.textContent)) count.textContent = value;
  }

  let retry = null;
  function listen() {
    // EventSource reconnects by itself after a dropped connection, sending
    // Last-Event-ID; after a refusal (503 while Redis is down) it gives up,
    // so try again a little later.
    const source = new EventSource(likes.dataset.eventsUrl);
    source.addEventListener("likes", (event) => show(event.data));
    source.onopen = () => {
      status.textContent = "live";
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        status.textContent = "live updates paused";
        clearTimeout(retry);
        retry = setTimeout(listen, 5000);
      }
    };
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      // Django's CSRF check: the page's token, in the header it reads.
      const headers = { "X-CSRFToken": likes.dataset.csrfToken };
      const answer = await fetch(likes.dataset.likeUrl, { method: "POST", headers });
      if (answer.ok) show((await answer.json()).likes);
    } finally {
      button.disabled = false;
    }
  });
  listen();
})();
