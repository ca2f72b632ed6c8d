#!/usr/bin/env python3
"""Write a deterministic WordPress export (WXR 1.2) for the import benchmark.

    python3 bench/gen_wxr.py --posts 10000 --comments 50000 --out /tmp/bench.xml

Posts have about 600 words of HTML in <p> paragraphs, one of 20 categories (5 nested under
others), three of 60 tags and one of 12 authors; comments are spread evenly, every fourth
one a reply to the previous comment of its post, every tenth one pending.  Standard library only.
"""
import argparse
import hashlib

WORDS = ("harbour council budget vote river storm market school bridge court festival report "
         "minister museum railway energy ferry hospital election library farmers weather").split()


def words(seed, n):
    h = hashlib.sha256(str(seed).encode()).digest()
    return " ".join(WORDS[(h[i % 32] + i * 7) % len(WORDS)] for i in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=10000)
    ap.add_argument("--comments", type=int, default=50000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as f:
        w = f.write
        w('<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" '
          'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
          'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
          '<title>Bench</title><link>https://old.example</link>\n'
          '<wp:wxr_version>1.2</wp:wxr_version><wp:base_site_url>https://old.example</wp:base_site_url>\n')
        for i in range(12):
            w(f'<wp:author><wp:author_login><![CDATA[author{i}]]></wp:author_login><wp:author_email>author{i}@old.example</wp:author_email>'
              f'<wp:author_display_name><![CDATA[Author {i}]]></wp:author_display_name></wp:author>\n')
        for i in range(20):
            parent = f"cat-{i - 15}" if i >= 15 else ""
            w(f'<wp:category><wp:category_nicename>cat-{i}</wp:category_nicename><wp:category_parent>{parent}</wp:category_parent>'
              f'<wp:cat_name><![CDATA[Category {i}]]></wp:cat_name></wp:category>\n')
        per_post = a.comments // a.posts
        extra = a.comments - per_post * a.posts
        cid = 0
        for p in range(1, a.posts + 1):
            day = 1 + p % 28
            date = f"2020-{1 + p % 12:02d}-{day:02d} {p % 24:02d}:{p % 60:02d}:00"
            body = "\n\n".join(f"<p>{words((p, k), 60)} <strong>{words((p, k, 1), 2)}</strong>.</p>" for k in range(10))
            w(f'<item><title>Post {p}: {words(p, 5)}</title><link>https://old.example/2020/{p % 12 + 1:02d}/post-{p}/</link>'
              f'<dc:creator><![CDATA[author{p % 12}]]></dc:creator><guid isPermaLink="false">https://old.example/?p={p}</guid>'
              f'<content:encoded><![CDATA[{body}]]></content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>'
              f'<wp:post_id>{p}</wp:post_id><wp:post_date_gmt>{date}</wp:post_date_gmt><wp:post_name>post-{p}</wp:post_name>'
              f'<wp:status>publish</wp:status><wp:post_type>post</wp:post_type>'
              f'<category domain="category" nicename="cat-{p % 20}"><![CDATA[Category {p % 20}]]></category>')
            for t in range(3):
                tag = (p * 3 + t) % 60
                w(f'<category domain="post_tag" nicename="tag-{tag}"><![CDATA[Tag {tag}]]></category>')
            n = per_post + (1 if p <= extra else 0)
            prev = 0
            for k in range(n):
                cid += 1
                parent = prev if k % 4 == 3 else 0
                status = "0" if cid % 10 == 0 else "1"
                w(f'<wp:comment><wp:comment_id>{cid}</wp:comment_id><wp:comment_author><![CDATA[Reader {cid % 500}]]></wp:comment_author>'
                  f'<wp:comment_author_email>reader{cid % 500}@example.org</wp:comment_author_email><wp:comment_author_url></wp:comment_author_url>'
                  f'<wp:comment_date_gmt>{date}</wp:comment_date_gmt><wp:comment_content><![CDATA[{words(cid, 25)}]]></wp:comment_content>'
                  f'<wp:comment_approved>{status}</wp:comment_approved><wp:comment_type>comment</wp:comment_type>'
                  f'<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>')
                prev = cid
            w('</item>\n')
        w('</channel>\n</rss>\n')


if __name__ == "__main__":
    main()
