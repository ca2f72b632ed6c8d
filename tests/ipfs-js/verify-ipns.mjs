#!/usr/bin/env node
// Checks the site's IPNS name, record and exported key with the JS IPNS stack (the npm `ipns`
// and `@libp2p/crypto` packages), which share nothing with our Rust code.
//
// Usage: node verify-ipns.mjs NAME RECORD_FILE [KEY_FILE]
//
// NAME is the IPNS name (a CIDv1 of a libp2p-key, base36, as `ipfs key list -l` prints it);
// RECORD_FILE holds the record as the gateway serves it (application/vnd.ipfs.ipns-record).
// The record must pass the `ipns` validator for NAME's routing key: a V2 signature by NAME's key
// over its DAG-CBOR data, the data matching the protobuf fields, a validity not yet passed, at
// most 10 KiB. KEY_FILE, when given, is a private key in libp2p's protobuf format (Kubo's
// `ipfs key export`), and must be NAME's key.
// Prints the record's fields as one JSON line: {"value", "sequence", "validity", "ttl"}.
//
// Exit status: 0 all checks passed, 1 a check failed, 2 usage error.
import fs from 'node:fs'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { multihashToIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'

const [name, recordPath, keyPath] = process.argv.slice(2)
if (!name || !recordPath) {
  console.error('usage: node verify-ipns.mjs NAME RECORD_FILE [KEY_FILE]')
  process.exit(2)
}

try {
  const cid = CID.parse(name, base36)
  if (cid.version !== 1 || cid.code !== 0x72) throw new Error(`${name} is not a CIDv1 of a libp2p-key`)
  const record = fs.readFileSync(recordPath)
  await ipnsValidator(multihashToIPNSRoutingKey(cid.multihash), record)
  const fields = unmarshalIPNSRecord(record)
  if (keyPath) {
    const key = privateKeyFromProtobuf(fs.readFileSync(keyPath))
    const keyName = key.publicKey.toCID().toString(base36)
    if (keyName !== name) throw new Error(`the exported key names ${keyName}, not ${name}`)
  }
  console.log(JSON.stringify({
    value: fields.value,
    sequence: fields.sequence.toString(),
    validity: fields.validity,
    ttl: fields.ttl?.toString()
  }))
} catch (error) {
  console.error(`FAIL ${error.name}: ${error.message}`)
  process.exit(1)
}
