// Package keys validates the OpenSSH and OpenPGP public keys that users
// store in the directory.
//
// Every error returned here is a *herald.Error (EINVALID) shown to the person
// who pasted the key: it names the JSON field it concerns (ssh_key, pgp_key,
// pgp_cert_id) and says what to do in plain words.
// We never echo the pasted input back in an error: if someone pastes a
// private key by mistake it must not end up in logs or responses.
package keys

import (
	"crypto/rsa"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"

	"github.com/heraldhq/herald"
)

// minRSABits is the smallest RSA modulus we accept for SSH keys; 2048 bits
// is what current OpenSSH and NIST guidance treat as the minimum.
// algoDSA is the ssh-dss key type, which x/crypto/ssh no longer parses.
const algoDSA = "ssh-dss"

const minRSABits = 2048

// maxSSHKeyLen bounds the input to ParseSSH. An OpenSSH public key line,
// even for a 16384-bit RSA key, is under 3 KiB, so anything far larger is
// not a single public key and is not worth parsing.
const maxSSHKeyLen = 16 << 10

// maxPGPKeyLen bounds the input to ParsePGP. Public keys with many
// third-party signatures can reach a few hundred KiB; 1 MiB leaves room for
// those while keeping the parser away from arbitrarily large uploads.
const maxPGPKeyLen = 1 << 20

// The armor lines that must surround a pasted OpenPGP public key.
const (
	pgpPublicBegin  = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	pgpPublicEnd    = "-----END PGP PUBLIC KEY BLOCK-----"
	pgpPrivateBegin = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
)

// SSHKey is a parsed OpenSSH public key.
type SSHKey struct {
	Type        string // e.g. "ssh-ed25519", "ssh-rsa"
	Fingerprint string // "SHA256:..." as ssh-keygen -l prints
	Comment     string
}

// ParseSSH parses exactly one OpenSSH public key in authorized_keys format
// ("type base64 [comment]"). Leading and trailing whitespace is allowed.
// It rejects authorized_keys options (such as command="..."), input holding
// more than one key, private keys, certificates, DSA keys and RSA keys
// shorter than 2048 bits.
func ParseSSH(s string) (SSHKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return SSHKey{}, herald.Invalid("ssh_key", "is empty; paste an OpenSSH public key")
	}
	if len(s) > maxSSHKeyLen {
		return SSHKey{}, herald.Invalid("ssh_key", "too long to be an OpenSSH public key")
	}

	// Private keys are multi-line PEM-like blocks ("-----BEGIN OPENSSH
	// PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", ...) or PuTTY
	// .ppk files. Catch them before anything else so the person is told
	// the real problem instead of "more than one key".
	if strings.Contains(s, "PRIVATE KEY") || strings.HasPrefix(s, "PuTTY-User-Key-File") {
		return SSHKey{}, herald.Invalid("ssh_key", "a private key was given; paste the public key (the .pub file) instead")
	}

	// Other armored formats (RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----",
	// PEM, an OpenPGP block) are not authorized_keys lines.
	if strings.HasPrefix(s, "---") {
		return SSHKey{}, herald.Invalid("ssh_key", `not an OpenSSH public key; expected a single line like "ssh-ed25519 AAAA... comment"`)
	}

	// ssh.ParseAuthorizedKey skips blank lines, '#' lines and lines it
	// cannot parse, and returns the first key it finds. We want to store
	// exactly what we validated, so we require exactly one non-empty line
	// and hand only that line to the parser.
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line) // also drops a trailing '\r'
		if line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > 1 {
		return SSHKey{}, herald.Invalid("ssh_key", "contains more than one key (%d lines); paste exactly one public key", len(lines))
	}
	line := lines[0]

	// x/crypto/ssh no longer parses DSA keys at all, so without this check
	// a DSA key would only get the generic "not an OpenSSH public key".
	if strings.Fields(line)[0] == algoDSA {
		return SSHKey{}, herald.Invalid("ssh_key", "DSA keys are not accepted; use an ed25519 key or an RSA key of at least 2048 bits")
	}

	pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		// The library's messages ("ssh: no key found") do not help a
		// person, so we replace them with ours.
		return SSHKey{}, herald.Invalid("ssh_key", `not an OpenSSH public key; expected a single line like "ssh-ed25519 AAAA... comment"`)
	}
	if len(options) > 0 {
		return SSHKey{}, herald.Invalid("ssh_key", `authorized_keys options (like command="...") are not allowed; paste only the key`)
	}

	// A certificate is signed by some CA and expires; the directory
	// stores a person's plain key.
	if _, ok := pub.(*ssh.Certificate); ok {
		return SSHKey{}, herald.Invalid("ssh_key", "SSH certificates are not accepted; paste the plain public key")
	}
	if pub.Type() == ssh.KeyAlgoRSA {
		bits, err := rsaBits(pub)
		if err != nil {
			return SSHKey{}, err
		}
		if bits < minRSABits {
			return SSHKey{}, herald.Invalid("ssh_key", "RSA key too short (%d bits), need at least %d", bits, minRSABits)
		}
	}

	return SSHKey{
		Type:        pub.Type(),
		Fingerprint: ssh.FingerprintSHA256(pub),
		Comment:     strings.TrimSpace(comment),
	}, nil
}

// rsaBits returns the modulus size of an ssh-rsa public key.
func rsaBits(pub ssh.PublicKey) (int, error) {
	cpk, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return 0, herald.Invalid("ssh_key", "cannot read the RSA key size")
	}
	rsaKey, ok := cpk.CryptoPublicKey().(*rsa.PublicKey)
	if !ok {
		return 0, herald.Invalid("ssh_key", "cannot read the RSA key size")
	}
	return rsaKey.N.BitLen(), nil
}

// PGPKey is a parsed armored OpenPGP public key.
type PGPKey struct {
	Fingerprint string   // 40 uppercase hex digits (v4 keys)
	UserIDs     []string // the identities' names, e.g. "Jane Doe <jane@example.com>"
}

// ParsePGP parses one ASCII-armored OpenPGP public key block. The input must
// be exactly one "PGP PUBLIC KEY BLOCK" (surrounding whitespace allowed)
// holding exactly one version 4 key. Private keys are rejected. UserIDs are
// returned sorted so the result does not depend on map order.
func ParsePGP(armored string) (PGPKey, error) {
	armored = strings.TrimSpace(armored)
	if armored == "" {
		return PGPKey{}, herald.Invalid("pgp_key", "is empty; paste an ASCII-armored OpenPGP public key")
	}
	if len(armored) > maxPGPKeyLen {
		return PGPKey{}, herald.Invalid("pgp_key", "too long; paste a single OpenPGP public key")
	}
	if strings.Contains(armored, pgpPrivateBegin) {
		return PGPKey{}, herald.Invalid("pgp_key", "a private key was given; paste the public key")
	}

	// The armor decoder reads only the first block and ignores whatever
	// follows, so a second pasted block would be stored without being
	// checked. Reject it instead.
	if strings.Count(armored, "-----BEGIN PGP") > 1 {
		return PGPKey{}, herald.Invalid("pgp_key", "contains more than one armored block; paste exactly one public key")
	}
	// The armor decoder also skips any text before the BEGIN line. We
	// require the block to be the whole input, so what we store is exactly
	// what we checked.
	if !strings.HasPrefix(armored, pgpPublicBegin) || !strings.HasSuffix(armored, pgpPublicEnd) {
		return PGPKey{}, herald.Invalid("pgp_key", "not an ASCII-armored OpenPGP public key; it must start with %s and end with %s", pgpPublicBegin, pgpPublicEnd)
	}

	entities, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		// The library error is technical but is the only clue to what is
		// wrong with a damaged block, and it never contains key material.
		return PGPKey{}, herald.Invalid("pgp_key", "not a valid OpenPGP public key (%v)", err)
	}
	if len(entities) == 0 {
		return PGPKey{}, herald.Invalid("pgp_key", "the block contains no key")
	}
	if len(entities) > 1 {
		return PGPKey{}, herald.Invalid("pgp_key", "contains more than one key (%d); paste exactly one public key", len(entities))
	}
	entity := entities[0]

	// A block labelled PUBLIC can still carry secret-key packets; the
	// header check above does not catch that.
	if hasPrivateKey(entity) {
		return PGPKey{}, herald.Invalid("pgp_key", "a private key was given; paste the public key")
	}

	// Only v4 keys have the 20-byte fingerprint that pgp_cert_id is
	// defined as (40 hex digits).
	if entity.PrimaryKey.Version != 4 || len(entity.PrimaryKey.Fingerprint) != 20 {
		return PGPKey{}, herald.Invalid("pgp_key", "only version 4 OpenPGP keys are supported (this is a version %d key)", entity.PrimaryKey.Version)
	}

	userIDs := make([]string, 0, len(entity.Identities))
	for name := range entity.Identities {
		userIDs = append(userIDs, name)
	}
	sort.Strings(userIDs)

	return PGPKey{
		Fingerprint: strings.ToUpper(hex.EncodeToString(entity.PrimaryKey.Fingerprint)),
		UserIDs:     userIDs,
	}, nil
}

// hasPrivateKey reports whether the entity carries secret key material for
// its primary key or any subkey.
func hasPrivateKey(entity *openpgp.Entity) bool {
	if entity.PrivateKey != nil {
		return true
	}
	for _, subkey := range entity.Subkeys {
		if subkey.PrivateKey != nil {
			return true
		}
	}
	return false
}

// CheckPGP validates an OpenPGP public key together with the fingerprint
// the user claims for it, and returns the fingerprint as 40 uppercase hex
// digits. certID is compared case-insensitively and may contain spaces (as
// gpg prints fingerprints in groups). Both values empty means the user has
// no OpenPGP key and returns ("", nil); one without the other is an error.
func CheckPGP(armored, certID string) (string, error) {
	armored = strings.TrimSpace(armored)
	// strings.Fields drops every kind of whitespace, so "ABCD EF01 ..."
	// and tab- or newline-separated groups all normalize the same way.
	id := strings.ToUpper(strings.Join(strings.Fields(certID), ""))

	if armored == "" && id == "" {
		return "", nil
	}
	if armored == "" {
		return "", herald.Invalid("pgp_key", "is missing; pgp_cert_id was given without a key")
	}
	if id == "" {
		return "", herald.Invalid("pgp_cert_id", "is missing; give the key's 40-digit fingerprint")
	}
	// Check the format before parsing the key: it is cheaper and the
	// message is more precise than a mismatch.
	if len(id) != 40 || !isHex(id) {
		// Say what is wrong with the key too, so a form shows both at once.
		var errs herald.Errors
		if _, err := ParsePGP(armored); err != nil {
			errs.Add(err)
		}
		errs.Add(herald.Invalid("pgp_cert_id", "must be 40 hexadecimal digits"))
		return "", errs.Err()
	}

	key, err := ParsePGP(armored)
	if err != nil {
		return "", err
	}
	if id != key.Fingerprint {
		return "", herald.Invalid("pgp_cert_id", "does not match the key's fingerprint %s", key.Fingerprint)
	}
	return key.Fingerprint, nil
}

// isHex reports whether s consists only of hexadecimal digits.
func isHex(s string) bool {
	for _, c := range s {
		isDigit := c >= '0' && c <= '9'
		isUpper := c >= 'A' && c <= 'F'
		isLower := c >= 'a' && c <= 'f'
		if !isDigit && !isUpper && !isLower {
			return false
		}
	}
	return true
}
