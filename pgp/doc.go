// Package pgp owns disclosured's OpenPGP: the organisation's keys, the
// detection, decryption and verification of incoming mail, reporter keys
// found in mail, the signing and encryption of outgoing mail, and the
// clear-signed security.txt (RFC 9116).
//
// The cryptography is gopenpgp v3 on ProtonMail's go-crypto; the PGP/MIME
// layer (RFC 3156) is written here on go-message's textproto, which keeps
// each part's raw bytes, so that a message with nothing of OpenPGP in it
// comes back byte for byte, and parts around an encrypted one are copied
// as they were.
//
// Inbound, Open looks for, in this order: multipart/encrypted (RFC 3156
// §4), the form Outlook and Exchange turn it into (multipart/mixed with an
// empty text part, application/pgp-encrypted and encrypted.asc),
// multipart/signed (RFC 3156 §5), inline armor in text/plain and in
// text/html, and encrypted attachments (.gpg, .pgp, .asc that hold no
// key). It rewrites the message with the plaintext in place of each
// ciphertext and reports what it did in a Result. It never fails on
// hostile input: what it cannot read it leaves as it was and names in
// Result.Err.
//
// Bounds (every one is checked before the work it limits):
//   - a key block is at most MaxKeyBytes, with at most MaxKeyUserIDs user
//     IDs, MaxKeySubkeys subkeys and MaxKeySignatures signatures, counted
//     from the packet headers before go-crypto parses or verifies anything
//     (a key bomb costs one linear scan);
//   - an OpenPGP message has at most MaxRecipients key packets (each is an
//     asymmetric operation) and decompresses to at most
//     Options.MaxPlaintext bytes (default DefaultMaxPlaintext, 32 MiB): a
//     compression bomb stops there with ErrTooLarge;
//   - at most MaxDecryptions ciphertexts are opened per message, MIME is
//     walked to depth MaxDepth and MaxParts parts;
//   - the total plaintext of one message is also capped by
//     Options.MaxPlaintext, so the rewritten message is at most the input
//     plus that.
//
// Time is therefore linear in the input and the plaintext; memory is the
// input plus at most Options.MaxPlaintext, times a small constant.
//
// The package imports no disclosured package.
package pgp
