#!/usr/bin/env python3
"""The writes of bench/mixed.sh: a newsroom at work while readers read.

    mixed_writer.py comments BASE SLUG...      posts one comment on each article through its
                                               form, as a reader does; prints the comment ids
    mixed_writer.py write BASE TOKEN SECONDS ID...
                                               for SECONDS: moderates the comments ID... in turn
                                               (approve, then back to pending) at APPROVALS_PER_S,
                                               and publishes a new article through the API at
                                               PUBLISHES_PER_S; prints what it did

Standard library only. Every answer must be 2xx: a refused write would make the load lighter
than it claims to be.
"""

import http.client
import json
import os
import re
import sys
import time
import urllib.parse


def connect(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if not 200 <= response.status < 400:
        sys.exit(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return response, data


def post_comments(base, slugs):
    conn = connect(base)
    for n, slug in enumerate(slugs):
        _, page = request(conn, "GET", f"/article/{slug}")
        token = re.search(rb'name="token" value="([^"]+)"', page)
        if not token:
            sys.exit(f"/article/{slug} has no comment form")
        form = urllib.parse.urlencode({
            "author": f"Reader {n}",
            "email": f"reader{n}@example.org",
            "url": "",
            "comment": f"A thought on this story, number {n}.",
            "token": token.group(1).decode(),
        })
        response, _ = request(conn, "POST", f"/article/{slug}/comments", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
        location = response.getheader("Location", "")
        print(location.rsplit("#comment-", 1)[1])


def write(base, token, seconds, comment_ids):
    approvals_per_s = float(os.environ.get("APPROVALS_PER_S", "10"))
    publishes_per_s = float(os.environ.get("PUBLISHES_PER_S", "1"))
    conn = connect(base)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.monotonic()
    moderations = publishes = 0
    approved = set()
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        # Whichever kind of write is behind its schedule goes next.
        due_moderation = start + moderations / approvals_per_s
        due_publish = start + publishes / publishes_per_s
        due = min(due_moderation, due_publish)
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if due_moderation <= due_publish:
            comment = comment_ids[moderations % len(comment_ids)]
            status = "pending" if comment in approved else "approved"
            approved.symmetric_difference_update({comment})
            request(conn, "PATCH", f"/api/v1/comments/{comment}", json.dumps({"status": status}), auth)
            moderations += 1
        else:
            article = {
                "title": f"Mixed load edition {publishes} at {time.time():.3f}",
                "body": "A short story published while readers read.\n\nSecond paragraph.",
                "status": "published",
            }
            request(conn, "POST", "/api/v1/articles", json.dumps(article), auth)
            publishes += 1
    took = time.monotonic() - start
    print(f"{moderations} moderations ({moderations / took:.1f}/s), {publishes} publishes ({publishes / took:.1f}/s)")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "comments":
        post_comments(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 6 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
