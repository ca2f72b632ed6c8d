#!/usr/bin/env python3
"""Write a deterministic corpus of fictional news articles for OpenVoice benchmarks.

Each article is DIR/<slug>.md: YAML front matter (title, date, categories, tags,
author, slug) followed by a Markdown body of about 600 words in paragraphs, with
two "##" subheadings and the occasional **bold**, *italic* and [link](...).

    python3 bench/gen_corpus.py --n 10000 --out /tmp/corpus [--seed 42] [--words 600]

The slug of article i ends in "-%05d" % i, so article 500 is the file ending in
"-00500.md".  There are 20 categories and 12 authors.  All dates lie between
2019 and 2025, so no article looks scheduled for the future.

Output depends only on the arguments: the random numbers come from a SplitMix64
generator implemented here and seeded from SHA-256 of (seed, index), not from
Python's `random` module, so the same arguments give byte-identical files on any
Python 3 version.  Standard library only.
"""
import argparse
import datetime as dt
import hashlib
import os
import sys

CATEGORIES = [
    "Politics", "World", "Economy", "Business", "Technology",
    "Science", "Health", "Climate", "Defence & Security", "Education",
    "Culture", "Music", "Film", "Books", "Sport",
    "Travel", "Food", "Local", "Justice", "Opinion",
]
assert len(CATEGORIES) == 20

AUTHORS = [
    "Anya Corvell", "Bastian Rook", "Celia Marwood", "Dmitri Halloran",
    "Esme Tolvanen", "Felix Obuya", "Greta Sandvik", "Hugo Ferrant",
    "Iris Valdmaa", "Jasper Quell", "Kaia Brenner", "Lucian Moss",
]
assert len(AUTHORS) == 12

PLACES = [
    "Brennholm", "Selvik", "Oskarby", "Lunde", "Harrow Point", "Tarnvik",
    "Eastmoor", "Kestrel Bay", "Norrvale", "Aldgate Ridge", "Millbeck",
    "Vannstad", "Greyhaven", "Solberg", "Marsh End", "Westerholm",
]

SUBJECTS = [
    "the city council", "the regional government", "the transport authority",
    "local residents", "the teachers' union", "the hospital board",
    "a group of researchers", "the finance ministry", "the port authority",
    "the chamber of commerce", "the opposition", "the police",
    "the festival organisers", "the water company", "farmers in the valley",
    "the university", "the housing cooperative", "a parliamentary committee",
    "the coast guard", "small business owners", "the energy regulator",
    "the museum", "the football club", "the national statistics office",
]

VERBS = [
    "approved", "rejected", "postponed", "announced", "questioned",
    "published", "welcomed", "criticised", "reviewed", "extended",
    "proposed", "delayed", "funded", "defended", "presented", "cancelled",
]

OBJECTS = [
    "a plan to rebuild the old harbour bridge", "the new school budget",
    "a report on air quality", "changes to the night bus timetable",
    "a study of winter flooding", "the proposal for a new library",
    "a scheme to insulate older homes", "the rent control measure",
    "an inquiry into hospital waiting times", "the cycling network expansion",
    "a ban on fishing in the estuary", "the tender for electric ferries",
    "a review of police overtime", "the museum's winter exhibition",
    "new rules for short-term rentals", "the regional broadband project",
    "a pilot for free school meals", "the closure of two rural branches",
    "a wind farm off the northern coast", "the annual spending review",
]

TIMES = [
    "on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday",
    "at the weekend", "last week", "earlier this month", "late on Tuesday",
    "after a long debate", "without a vote", "in a closed session",
]

CLAUSES = [
    "according to figures released by the statistics office",
    "despite objections from several neighbourhood groups",
    "after months of negotiation",
    "although the final cost is still unclear",
    "which officials say will take at least two years",
    "in a move that surprised many observers",
    "following complaints from residents",
    "while the budget remains under pressure",
    "as the winter season approaches",
    "once the consultation period has closed",
]

QUOTES = [
    "We have listened carefully and we think this is the right balance",
    "Nobody pretends this will be cheap, but doing nothing costs more",
    "People want to know what happens next, and so do we",
    "The numbers speak for themselves",
    "This is a first step, not the last one",
    "We asked for clear answers and we are still waiting",
    "It will take time before anyone notices a difference",
    "Our members have been raising this problem for years",
]

SPEAKERS = [
    "a spokesperson", "the mayor", "the committee chair", "a local shop owner",
    "one resident", "the project manager", "a union representative",
    "an independent economist", "the director", "a senior official",
]

# (unit, smallest, largest) for "The figure rose to N unit" sentences.
QUANTITIES = [
    ("percent", 2, 40), ("million crowns", 3, 900), ("households", 40, 9000),
    ("jobs", 10, 2500), ("kilometres", 2, 180), ("students", 30, 4000),
    ("hectares", 5, 1800), ("passengers a day", 200, 30000),
    ("new homes", 12, 1500), ("beds", 8, 400),
]

HEADINGS = [
    "What happens next", "The background", "Reactions", "The cost",
    "What residents say", "A long road", "The numbers", "Questions remain",
    "How it will work", "Who pays", "Earlier attempts", "Looking ahead",
]

TITLE_NOUNS = [
    "Council", "Residents", "Ministry", "Port", "Hospital", "Researchers",
    "Union", "Museum", "Festival", "Farmers", "Regulator", "University",
]
TITLE_VERBS = [
    "Approves", "Rejects", "Delays", "Backs", "Questions", "Unveils",
    "Funds", "Reviews", "Extends", "Opposes", "Welcomes", "Plans",
]
TITLE_OBJECTS = [
    "Harbour Bridge Rebuild", "School Budget", "Air Quality Report",
    "Night Bus Changes", "Flood Defence Study", "New Library",
    "Home Insulation Scheme", "Rent Controls", "Waiting Time Inquiry",
    "Cycle Network", "Estuary Fishing Ban", "Electric Ferries",
    "Police Overtime Review", "Winter Exhibition", "Rental Rules",
    "Broadband Project", "Free School Meals", "Branch Closures",
    "Offshore Wind Farm", "Spending Review",
]

TAGS = [
    "budget", "transport", "housing", "schools", "health", "energy",
    "environment", "fishing", "ports", "culture", "police", "courts",
    "jobs", "tourism", "broadband", "elections", "weather", "farming",
    "museums", "sport", "rail", "ferries", "libraries", "water",
]

BASE_DATE = dt.datetime(2019, 1, 1, 6, 0, 0)


class SplitMix64:
    """A tiny, fully specified PRNG so that output never depends on Python's `random`."""

    MASK = (1 << 64) - 1

    def __init__(self, key):
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        self.state = int.from_bytes(digest[:8], "big")

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform integer in [0, n) (modulo bias is irrelevant here)."""
        return self.next_u64() % n

    def between(self, lo, hi):
        """Uniform integer in [lo, hi], both ends included."""
        return lo + self.below(hi - lo + 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, per_mille):
        return self.below(1000) < per_mille


def slugify(text):
    out = []
    for ch in text.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decorate(rng, words):
    """Occasionally make one word bold, italic or a link."""
    roll = rng.below(100)
    if roll >= 15 or len(words) < 4:
        return words
    candidates = [i for i, w in enumerate(words[1:-1], 1) if w.isalpha() and len(w) >= 4]
    if not candidates:
        return words
    i = rng.pick(candidates)
    word = words[i]
    if roll < 6:
        words[i] = "**" + word + "**"
    elif roll < 11:
        words[i] = "*" + word + "*"
    else:
        words[i] = "[%s](https://example.org/%s)" % (word, slugify(word))
    return words


def make_sentence(rng):
    kind = rng.below(6)
    if kind == 0:
        text = '"%s," said %s.' % (rng.pick(QUOTES), rng.pick(SPEAKERS))
        return text[0].upper() + text[1:]
    if kind == 1:
        text = "%s %s %s %s." % (
            rng.pick(SUBJECTS), rng.pick(VERBS), rng.pick(OBJECTS), rng.pick(TIMES))
    elif kind == 2:
        unit, lo, hi = rng.pick(QUANTITIES)
        text = "The figure rose to %d %s in %s, %s." % (
            rng.between(lo, hi), unit, rng.pick(PLACES), rng.pick(CLAUSES))
    elif kind == 3:
        text = "In %s, %s %s %s, %s." % (
            rng.pick(PLACES), rng.pick(SUBJECTS), rng.pick(VERBS),
            rng.pick(OBJECTS), rng.pick(CLAUSES))
    elif kind == 4:
        text = "%s said the decision on %s would be taken %s." % (
            rng.pick(SPEAKERS), rng.pick(OBJECTS), rng.pick(TIMES))
    else:
        text = "%s %s %s, %s, and %s %s it %s." % (
            rng.pick(SUBJECTS), rng.pick(VERBS), rng.pick(OBJECTS),
            rng.pick(CLAUSES), rng.pick(SUBJECTS), rng.pick(VERBS), rng.pick(TIMES))
    words = decorate(rng, text.split(" "))
    text = " ".join(words)
    return text[0].upper() + text[1:]


def make_body(rng, target_words):
    blocks = []
    n_words = 0
    first_heading = rng.between(2, 3)
    headings = {first_heading, first_heading + rng.between(2, 4)}
    used_headings = set()
    paragraph = 0
    while n_words < target_words:
        paragraph += 1
        if paragraph in headings:
            heading = rng.pick(HEADINGS)
            while heading in used_headings:
                heading = rng.pick(HEADINGS)
            used_headings.add(heading)
            blocks.append("## " + heading)
        sentences = []
        for _ in range(rng.between(3, 5)):
            sentence = make_sentence(rng)
            sentences.append(sentence)
            n_words += len(sentence.split())
            if n_words >= target_words:
                break
        blocks.append(" ".join(sentences))
    return "\n\n".join(blocks) + "\n", n_words


def make_article(index, seed, mean_words, step_minutes=120):
    rng = SplitMix64("openvoice-corpus:%d:%d" % (seed, index))
    title = "%s %s %s %s" % (
        rng.pick(PLACES), rng.pick(TITLE_NOUNS), rng.pick(TITLE_VERBS),
        rng.pick(TITLE_OBJECTS))
    slug = "%s-%05d" % (slugify(title)[:60].strip("-"), index)

    categories = [CATEGORIES[index % len(CATEGORIES)]]
    if rng.chance(150):
        extra = rng.pick(CATEGORIES)
        if extra not in categories:
            categories.append(extra)
    tags = []
    for _ in range(rng.between(2, 4)):
        tag = rng.pick(TAGS)
        if tag not in tags:
            tags.append(tag)
    tags.sort()
    author = AUTHORS[rng.below(len(AUTHORS))]
    # One article every `step_minutes` (two hours unless the corpus is large), oldest first, so
    # the newest index is the newest article.
    date = BASE_DATE + dt.timedelta(minutes=step_minutes * index + rng.below(step_minutes - 10))

    body, n_words = make_body(rng, mean_words + rng.between(-50, 50))
    front_matter = "\n".join([
        "---",
        "title: " + quoted(title),
        "date: " + date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "categories: [" + ", ".join(quoted(c) for c in categories) + "]",
        "tags: [" + ", ".join(quoted(t) for t in tags) + "]",
        "author: " + quoted(author),
        "slug: " + quoted(slug),
        "---",
        "",
    ])
    return slug, front_matter + body, n_words


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, required=True, help="number of articles")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--words", type=int, default=600, help="mean body length in words")
    args = parser.parse_args()
    if args.n < 0 or args.n > 100000:
        parser.error("--n must be between 0 and 100000 (slugs carry a 5-digit index, 00000-99999)")

    # Every date in the past: a corpus past 25,000 articles comes closer than two hours apart.
    step_minutes = max(20, min(120, 3_000_000 // max(args.n, 1)))

    os.makedirs(args.out, exist_ok=True)
    corpus_hash = hashlib.sha256()
    total_words = 0
    for index in range(args.n):
        slug, text, n_words = make_article(index, args.seed, args.words, step_minutes)
        data = text.encode("utf-8")
        corpus_hash.update(data)
        total_words += n_words
        with open(os.path.join(args.out, slug + ".md"), "wb") as f:
            f.write(data)
    print("wrote %d articles to %s; mean body words %.0f; corpus sha256 %s"
          % (args.n, args.out, total_words / max(args.n, 1), corpus_hash.hexdigest()),
          file=sys.stderr)


if __name__ == "__main__":
    main()
