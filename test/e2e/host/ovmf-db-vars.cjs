// Writes a copy of OVMF's empty variable store (OVMF_VARS_4M.fd) with one UEFI variable added: `db`
// (EFI_IMAGE_SECURITY_DATABASE_GUID) holding one EFI_SIGNATURE_LIST with the given DER certificate (EFI_CERT_X509).
// Debian's kernel loads db's certificates into its .platform keyring at boot, and Debian's patch
// "KEYS: Make use of platform keyring for module signature verify" (Debian bugs #935945, #1030200) lets a key there
// verify modules: booted under OVMF with this store, the kernel trusts the e2e test's throwaway key.
//   node ovmf-db-vars.cjs <OVMF_VARS_4M.fd> <cert.der> <out.fd>
// Layout (EDK2 MdeModulePkg VariableFormat.h, AuthenticatedVariableFormat.h): firmware volume header
// (HeaderLength at 0x30), VARIABLE_STORE_HEADER (gEfiAuthenticatedVariableGuid, 28 bytes), then 4-aligned
// AUTHENTICATED_VARIABLE_HEADER (60 bytes) + UTF-16 name + data (no padding between them on x86). An erased (0xff) area is free space.
'use strict';
const fs = require('node:fs');
const [src, certFile, out] = process.argv.slice(2);
const guid = (s) => {
  const h = s.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
};
const fail = (m) => {
  process.stderr.write(`ovmf-db-vars: ${m}\n`);
  process.exit(1);
};
const fv = fs.readFileSync(src);
if (fv.toString('latin1', 0x28, 0x2c) !== '_FVH') fail(`${src} is not a firmware volume`);
const store = fv.readUInt16LE(0x30);
if (!fv.subarray(store, store + 16).equals(guid('aaf32c78-947b-439a-a180-2e144ec37792')))
  fail(`${src}: no authenticated variable store at 0x${store.toString(16)}`);
if (fv[store + 20] !== 0x5a || fv[store + 21] !== 0xfe) fail(`${src}: variable store not formatted/healthy`);
const at = store + 28;
if (fv.readUInt16LE(at) !== 0xffff) fail(`${src}: the variable store is not empty (use the blank OVMF_VARS_4M.fd)`);
const cert = fs.readFileSync(certFile);
if (cert[0] !== 0x30) fail(`${certFile} is not a DER certificate`);
// EFI_SIGNATURE_LIST { SignatureType, ListSize, HeaderSize = 0, SignatureSize } + EFI_SIGNATURE_DATA { Owner, cert }
const owner = guid('e2e0e2e0-0000-4000-8000-000000000001');
const sigSize = 16 + cert.length;
const esl = Buffer.alloc(28 + sigSize);
guid('a5c059a1-94e4-4aa7-87b5-ab155c2bf072').copy(esl, 0);
esl.writeUInt32LE(esl.length, 16);
esl.writeUInt32LE(0, 20);
esl.writeUInt32LE(sigSize, 24);
owner.copy(esl, 28);
cert.copy(esl, 44);
const name = Buffer.from('db\0', 'utf16le');
const hdr = Buffer.alloc(60);
hdr.writeUInt16LE(0x55aa, 0); // StartId
hdr[2] = 0x3f; // State: VAR_ADDED
hdr[3] = 0;
hdr.writeUInt32LE(0x27, 4); // NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS, as db always has
// MonotonicCount, TimeStamp, PubKeyIndex: 0
hdr.writeUInt32LE(name.length, 36);
hdr.writeUInt32LE(esl.length, 40);
guid('d719b2cb-3d3a-4596-a3bc-dad00e67656f').copy(hdr, 44);
// The data follows the name without padding (ALIGNMENT is 1 on x86); only a variable's start is 4-aligned.
const v = Buffer.concat([hdr, name, esl]);
if (at + v.length > store + fv.readUInt32LE(store + 16)) fail('the certificate does not fit in the variable store');
v.copy(fv, at);
fs.writeFileSync(out, fv);
