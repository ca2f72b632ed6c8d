#!/usr/bin/env node
// Prints the root CID that the JS UnixFS importer computes for a file or directory with the
// settings of Kubo's `ipfs add --cid-version=1` (what `ipfs add -Q --only-hash --cid-version=1 -r
// PATH` prints), so tests can cross-check crates/ipfs on arbitrary inputs.
//
// Usage: node import-cid.mjs PATH
//
// Directories are read like Kubo reads them by default: recursively, the root being the directory
// itself, names starting with "." skipped, empty directories kept. Symlinks and special files are
// refused (the JS importer has no symlink support).
// Exit status: 0 printed a CID, 1 import failed, 2 usage error.
import fs from 'node:fs'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

// Kubo's Import.* defaults with --cid-version=1 (which turns on raw leaves).
const KUBO_CIDV1 = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  shardSplitThresholdBytes: 262144,
  shardSplitStrategy: 'links-bytes',
  shardFanoutBits: 8,
  wrapWithDirectory: false
}

// Only hashing is wanted: a blockstore that keeps nothing.
const nullBlockstore = {
  put: async (cid) => cid,
  has: async () => false,
  get: () => { throw new Error('null blockstore holds no blocks') }
}

// Yields importer candidates; file content is streamed, never read whole.
function * candidates (abs, rel) {
  const stat = fs.lstatSync(abs)
  if (stat.isFile()) {
    yield { path: rel, content: fs.createReadStream(abs, { highWaterMark: 1 << 20 }) }
  } else if (stat.isDirectory()) {
    const names = fs.readdirSync(abs).filter(name => !name.startsWith('.')).sort()
    if (names.length === 0) yield { path: rel }
    for (const name of names) yield * candidates(path.join(abs, name), `${rel}/${name}`)
  } else {
    throw new Error(`${abs}: not a regular file or directory`)
  }
}

async function main () {
  const args = process.argv.slice(2)
  if (args.length !== 1) {
    console.error('usage: node import-cid.mjs PATH')
    process.exit(2)
  }
  const abs = path.resolve(args[0])
  if (!fs.existsSync(abs)) {
    console.error(`no such file or directory: ${args[0]}`)
    process.exit(2)
  }
  const name = path.basename(abs)
  let last
  for await (const entry of importer(candidates(abs, name), nullBlockstore, KUBO_CIDV1)) last = entry
  if (last === undefined || last.path !== name) throw new Error(`importer ended on ${last?.path}, expected the root ${name}`)
  console.log(last.cid.toString())
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack ?? e}`)
  process.exit(1)
})
