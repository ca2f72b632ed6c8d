#!/usr/bin/env node
// Checks a CAR written by crates/ipfs with code that shares nothing with it (the JS IPFS stack).
//
// Usage: node verify-car.mjs FILE.car ROOT_CID [OUT_DIR]
//
// A CAR passes when:
//   - it is CARv1 and its header names exactly one root, ROOT_CID;
//   - every block re-hashes to its CID (sha2-256; identity CIDs must equal their bytes), and its
//     codec is raw or dag-pb; every dag-pb block decodes strictly, with valid UnixFS Data;
//   - no block appears twice, no block linked from the root is missing, no block is unreachable;
//   - the blocks come in DFS pre-order from the root, links in order (what our writer promises);
//   - ipfs-unixfs-exporter unpacks the whole tree, every file's length matching its UnixFS size.
// The tree is unpacked into OUT_DIR (which must not exist) when given, else into a temporary
// directory that is removed afterwards.
//
// Exit status: 0 all checks passed, 1 a check failed, 2 usage error.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'

class CheckFailed extends Error {}
const check = (ok, message) => { if (!ok) throw new CheckFailed(message) }
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])

function usage (message) {
  if (message) console.error(message)
  console.error('usage: node verify-car.mjs FILE.car ROOT_CID [OUT_DIR]')
  process.exit(2)
}

const args = process.argv.slice(2)
if (args.length < 2 || args.length > 3) usage()
const [carPath, rootArg, outArg] = args
let root
try { root = CID.parse(rootArg) } catch (e) { usage(`not a CID: ${rootArg}: ${e.message}`) }
if (!fs.existsSync(carPath)) usage(`no such file: ${carPath}`)
if (outArg && fs.existsSync(outArg)) usage(`OUT_DIR must not exist: ${outArg}`)

// Reads the CAR, checks every block, returns the blocks in file order.
async function readBlocks () {
  const iter = await CarBlockIterator.fromIterable(fs.createReadStream(carPath))
  check(iter.version === 1, `CAR version ${iter.version}, expected 1`)
  const roots = await iter.getRoots()
  check(roots.length === 1, `header has ${roots.length} roots, expected 1`)
  check(roots[0].equals(root), `header root ${roots[0]} is not ${root}`)
  const blocks = []
  for await (const { cid, bytes } of iter) {
    const where = `block #${blocks.length} ${cid}`
    check(cid.code === raw.code || cid.code === dagPb.code, `${where}: codec 0x${cid.code.toString(16)} is neither raw nor dag-pb`)
    if (cid.multihash.code === sha256.code) {
      const digest = await sha256.digest(bytes)
      check(sameBytes(digest.bytes, cid.multihash.bytes), `${where}: bytes do not hash to the CID`)
    } else {
      check(cid.multihash.code === identity.code, `${where}: multihash 0x${cid.multihash.code.toString(16)} is not sha2-256`)
      check(sameBytes(cid.multihash.digest, bytes), `${where}: identity digest differs from the bytes`)
    }
    if (cid.code === dagPb.code) {
      let node
      try { node = dagPb.decode(bytes) } catch (e) { throw new CheckFailed(`${where}: not strict dag-pb: ${e.message}`) }
      try { UnixFS.unmarshal(node.Data ?? new Uint8Array()) } catch (e) { throw new CheckFailed(`${where}: bad UnixFS Data: ${e.message}`) }
    }
    blocks.push({ cid, bytes })
  }
  return blocks
}

// The DFS pre-order of the DAG from the root, skipping repeats; fails on a missing block.
function dfsOrder (byKey) {
  const order = []
  const seen = new Set()
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop()
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const block = byKey.get(key)
    check(block !== undefined, `block ${key} is linked from the DAG but not in the CAR`)
    order.push(key)
    if (cid.code === dagPb.code) {
      const links = dagPb.decode(block.bytes).Links
      for (let i = links.length - 1; i >= 0; i--) stack.push(links[i].Hash)
    }
  }
  return order
}

function safeName (name) {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\\') && !name.includes('\0')
}

async function unpack (blockstore, outDir) {
  const stats = { files: 0, directories: 0, bytes: 0 }
  const writeEntry = async (entry, dest) => {
    if (entry.type === 'directory') {
      fs.mkdirSync(dest)
      stats.directories++
      for await (const child of entry.entries()) {
        check(safeName(child.name), `unsafe entry name ${JSON.stringify(child.name)} in ${entry.cid}`)
        await writeEntry(await exporter(child.cid, blockstore), path.join(dest, child.name))
      }
    } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
      const fd = fs.openSync(dest, 'wx')
      let written = 0
      try {
        for await (const chunk of entry.content()) { fs.writeSync(fd, chunk); written += chunk.length }
      } finally { fs.closeSync(fd) }
      check(written === Number(entry.size), `${entry.cid}: exported ${written} bytes, UnixFS size is ${entry.size}`)
      stats.files++
      stats.bytes += written
    } else {
      throw new CheckFailed(`${entry.cid}: cannot unpack UnixFS entry type ${entry.type}`)
    }
  }
  await writeEntry(await exporter(root, blockstore), outDir)
  return stats
}

async function main () {
  const blocks = await readBlocks()
  const byKey = new Map()
  for (const block of blocks) {
    const key = block.cid.toString()
    check(!byKey.has(key), `block ${key} appears twice`)
    byKey.set(key, block)
  }
  const expected = dfsOrder(byKey)
  check(expected.length === blocks.length, `${blocks.length - expected.length} block(s) not reachable from the root`)
  blocks.forEach((block, i) => {
    check(block.cid.toString() === expected[i], `block #${i} is ${block.cid}, DFS order expects ${expected[i]}`)
  })

  const blockstore = new MemoryBlockstore()
  for (const { cid, bytes } of blocks) await blockstore.put(cid, bytes)
  const tmp = outArg ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'verify-car-'))
  const outDir = outArg ?? path.join(tmp, 'out')
  try {
    const stats = await unpack(blockstore, outDir)
    const size = blocks.reduce((n, b) => n + b.bytes.length, 0)
    console.log(`OK ${root}: ${blocks.length} blocks (${size} bytes) in DFS order, ${stats.directories} directories, ${stats.files} files (${stats.bytes} bytes) unpacked`)
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e instanceof CheckFailed ? e.message : (e.stack ?? e)}`)
  process.exit(1)
})
