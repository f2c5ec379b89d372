package keys_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/heraldhq/herald/internal/keys"
)

// readTestdata returns the contents of testdata/name.
func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readFingerprint returns the expected fingerprint stored next to a test key.
func readFingerprint(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(readTestdata(t, name+".fpr"))
}

// checkErr fails the test unless err is non-nil, starts with the JSON field
// name and contains want.
func checkErr(t *testing.T, err error, field, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if !strings.HasPrefix(msg, field+": ") {
		t.Errorf("error %q does not start with %q", msg, field+": ")
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not contain %q", msg, want)
	}
}

// sshPrivateKeyPEM generates a throwaway ed25519 key and returns its
// private half in OpenSSH format. Generated at test time so no private key
// is ever committed.
func sshPrivateKeyPEM(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "throwaway")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// sshCertificate returns an authorized_keys line holding an SSH user
// certificate signed by a throwaway CA.
func sshCertificate(t *testing.T) string {
	t.Helper()
	userPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, caPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshUserPub, err := ssh.NewPublicKey(userPub)
	if err != nil {
		t.Fatal(err)
	}
	caSigner, err := ssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{
		Key:             sshUserPub,
		CertType:        ssh.UserCert,
		KeyId:           "test",
		ValidPrincipals: []string{"test"},
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, caSigner); err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(cert))
}

// pgpEntityArmored generates a throwaway OpenPGP key and returns it armored,
// either the private or the public half.
func pgpEntityArmored(t *testing.T, config *packet.Config, private bool) string {
	t.Helper()
	entity, err := openpgp.NewEntity("Private Test", "", "private@example.com", config)
	if err != nil {
		t.Fatal(err)
	}
	blockType := openpgp.PublicKeyType
	if private {
		blockType = openpgp.PrivateKeyType
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if private {
		err = entity.SerializePrivate(w, config)
	} else {
		err = entity.Serialize(w)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// corruptArmorBody changes one character in the middle of the armored body,
// leaving the BEGIN/END lines intact, as a damaged copy-paste would.
func corruptArmorBody(t *testing.T, armored string) string {
	t.Helper()
	lines := strings.Split(armored, "\n")
	// lines[0] is BEGIN, lines[1] is the blank line after the headers,
	// lines[2] is the first body line; corrupt the one after it.
	line := []byte(lines[3])
	if line[10] == 'A' {
		line[10] = 'B'
	} else {
		line[10] = 'A'
	}
	lines[3] = string(line)
	return strings.Join(lines, "\n")
}

// dropArmorBodyLine removes the second body line, as a truncated paste would.
func dropArmorBodyLine(armored string) string {
	lines := strings.Split(armored, "\n")
	lines = append(lines[:3:3], lines[4:]...)
	return strings.Join(lines, "\n")
}

// groupFingerprint formats a 40-hex fingerprint the way gpg prints it:
// ten groups of four, with an extra space in the middle.
func groupFingerprint(fpr string) string {
	var groups []string
	for i := 0; i < len(fpr); i += 4 {
		groups = append(groups, fpr[i:i+4])
	}
	return strings.Join(groups[:5], " ") + "  " + strings.Join(groups[5:], " ")
}

func TestParseSSH(t *testing.T) {
	ed := readTestdata(t, "ssh_ed25519.pub")
	edFpr := readFingerprint(t, "ssh_ed25519")
	rsaFpr := readFingerprint(t, "ssh_rsa")

	tests := []struct {
		name        string
		input       string
		wantType    string
		wantFpr     string
		wantComment string
	}{
		{"ed25519", ed, "ssh-ed25519", edFpr, "test-ed25519@example.com"},
		{"rsa 3072", readTestdata(t, "ssh_rsa.pub"), "ssh-rsa", rsaFpr, "test-rsa@example.com"},
		{"surrounding whitespace and blank lines", "\n\n  \t" + strings.TrimSpace(ed) + "  \n\n", "ssh-ed25519", edFpr, "test-ed25519@example.com"},
		{"CRLF line ending", strings.TrimSpace(ed) + "\r\n", "ssh-ed25519", edFpr, "test-ed25519@example.com"},
		{"no comment", strings.Join(strings.Fields(ed)[:2], " "), "ssh-ed25519", edFpr, ""},
		{"comment with spaces", strings.Join(strings.Fields(ed)[:2], " ") + " Jane Doe laptop", "ssh-ed25519", edFpr, "Jane Doe laptop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParseSSH(tc.input)
			if err != nil {
				t.Fatalf("ParseSSH: unexpected error: %v", err)
			}
			want := keys.SSHKey{Type: tc.wantType, Fingerprint: tc.wantFpr, Comment: tc.wantComment}
			if got != want {
				t.Errorf("ParseSSH = %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseSSHErrors(t *testing.T) {
	ed := strings.TrimSpace(readTestdata(t, "ssh_ed25519.pub"))
	rsa := strings.TrimSpace(readTestdata(t, "ssh_rsa.pub"))
	edFields := strings.Fields(ed) // type, base64 blob, comment
	edBlob := edFields[1]

	const notOpenSSH = "not an OpenSSH public key"
	const privateGiven = "a private key was given"

	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "", "is empty"},
		{"only whitespace", " \n\t\r\n ", "is empty"},
		{"random text", "hello world, this is my key", notOpenSSH},
		{"single word", "AAAAC3NzaC1lZDI1NTE5", notOpenSSH},
		{"truncated base64", "ssh-ed25519 " + edBlob[:len(edBlob)/2] + " test", notOpenSSH},
		{"invalid base64", "ssh-ed25519 " + strings.ReplaceAll(edBlob, "A", "*") + " test", notOpenSSH},
		{"type does not match blob", "ssh-rsa " + edBlob + " test", notOpenSSH},
		{"unknown type", "ssh-foo " + edBlob, notOpenSSH},
		{"command option", `command="echo hi" ` + ed, "options"},
		{"restrict option", "restrict " + ed, "options"},
		{"several options", `no-pty,from="10.0.0.1" ` + ed, "options"},
		{"two keys on two lines", ed + "\n" + rsa, "contains more than one key"},
		{"two keys with blank line between", ed + "\n\n" + rsa + "\n", "contains more than one key"},
		{"key and comment line", "# my laptop\n" + ed, "contains more than one key"},
		{"key and garbage line", ed + "\ngarbage", "contains more than one key"},
		{"rsa 1024 too short", readTestdata(t, "ssh_rsa1024.pub"), "RSA key too short (1024 bits), need at least 2048"},
		{"dsa", readTestdata(t, "ssh_dsa.pub"), "DSA keys are not accepted"},
		{"openssh private key", sshPrivateKeyPEM(t), privateGiven},
		{"pkcs1 private key header", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n", privateGiven},
		{"putty private key", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", privateGiven},
		{"rfc4716 public key", "---- BEGIN SSH2 PUBLIC KEY ----\n" + edBlob + "\n---- END SSH2 PUBLIC KEY ----\n", notOpenSSH},
		{"pgp key in ssh field", readTestdata(t, "pgp_ed25519.asc"), notOpenSSH},
		{"certificate", sshCertificate(t), "certificates are not accepted"},
		{"too long", "ssh-ed25519 " + strings.Repeat("A", 20000), "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParseSSH(tc.input)
			checkErr(t, err, "ssh_key", tc.want)
			if got != (keys.SSHKey{}) {
				t.Errorf("ParseSSH returned %+v with an error, want the zero value", got)
			}
		})
	}
}

func TestParsePGP(t *testing.T) {
	ed := readTestdata(t, "pgp_ed25519.asc")
	edFpr := readFingerprint(t, "pgp_ed25519")
	edUIDs := []string{"Test Ed <ed@example.com>"}

	tests := []struct {
		name     string
		input    string
		wantFpr  string
		wantUIDs []string
	}{
		{"ed25519", ed, edFpr, edUIDs},
		{"rsa 3072", readTestdata(t, "pgp_rsa.asc"), readFingerprint(t, "pgp_rsa"), []string{"Test RSA <rsa@example.com>"}},
		{"surrounding whitespace", "\n\n  " + ed + "\n\t\n", edFpr, edUIDs},
		{"CRLF line endings", strings.ReplaceAll(ed, "\n", "\r\n"), edFpr, edUIDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParsePGP(tc.input)
			if err != nil {
				t.Fatalf("ParsePGP: unexpected error: %v", err)
			}
			if got.Fingerprint != tc.wantFpr {
				t.Errorf("Fingerprint = %q, want %q", got.Fingerprint, tc.wantFpr)
			}
			if !reflect.DeepEqual(got.UserIDs, tc.wantUIDs) {
				t.Errorf("UserIDs = %q, want %q", got.UserIDs, tc.wantUIDs)
			}
		})
	}
}

func TestParsePGPErrors(t *testing.T) {
	ed := readTestdata(t, "pgp_ed25519.asc")
	rsa := readTestdata(t, "pgp_rsa.asc")
	fastKey := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	private := pgpEntityArmored(t, fastKey, true)
	// The same secret key packets under a PUBLIC header, so that only the
	// packet check, not the header check, can catch it.
	privateAsPublic := strings.ReplaceAll(private, openpgp.PrivateKeyType, openpgp.PublicKeyType)
	v6 := pgpEntityArmored(t, &packet.Config{V6Keys: true, Algorithm: packet.PubKeyAlgoEd25519}, false)

	const notArmored = "not an ASCII-armored OpenPGP public key"
	const notValid = "not a valid OpenPGP public key"

	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "", "is empty"},
		{"only whitespace", "  \n\t ", "is empty"},
		{"random text", "this is my key, trust me", notArmored},
		{"ssh key", readTestdata(t, "ssh_ed25519.pub"), notArmored},
		{"binary-looking base64 without armor", "mDMEawkAxRYJKwYBBAHaRw8BAQdAC4pY65w5gieLUIzz73h5ShWxPqSWJF65JinQ", notArmored},
		{"text before the block", "Here is my key:\n" + ed, notArmored},
		{"text after the block", ed + "thanks!\n", notArmored},
		{"missing END line", strings.Replace(ed, "-----END PGP PUBLIC KEY BLOCK-----", "", 1), notArmored},
		{"signature block", "-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQQ=\n=abcd\n-----END PGP SIGNATURE-----\n", notArmored},
		{"private key", private, "pgp_key: a private key was given; paste the public key"},
		{"private key under a public header", privateAsPublic, "a private key was given; paste the public key"},
		{"two keys in one block", readTestdata(t, "pgp_two_keys.asc"), "contains more than one key (2)"},
		{"two blocks", ed + rsa, "more than one armored block"},
		{"corrupted body", corruptArmorBody(t, ed), notValid},
		{"corrupted rsa body", corruptArmorBody(t, rsa), notValid},
		{"truncated body", dropArmorBodyLine(rsa), notValid},
		{"invalid base64 in body", strings.Replace(ed, "mDMEawkA", "mDM*@!kA", 1), notValid},
		{"empty body", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----", "pgp_key: "},
		{"v6 key", v6, "only version 4 OpenPGP keys are supported (this is a version 6 key)"},
		{"too long", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + strings.Repeat("A", 2<<20) + "\n-----END PGP PUBLIC KEY BLOCK-----", "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParsePGP(tc.input)
			checkErr(t, err, "pgp_key", tc.want)
			if got.Fingerprint != "" || got.UserIDs != nil {
				t.Errorf("ParsePGP returned %+v with an error, want the zero value", got)
			}
		})
	}
}

func TestCheckPGP(t *testing.T) {
	ed := readTestdata(t, "pgp_ed25519.asc")
	edFpr := readFingerprint(t, "pgp_ed25519")
	rsaFpr := readFingerprint(t, "pgp_rsa")
	private := pgpEntityArmored(t, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}, true)

	tests := []struct {
		name      string
		armored   string
		certID    string
		want      string // expected fingerprint when no error
		wantField string // JSON field the error must start with; "" means no error
		wantErr   string
	}{
		{name: "both empty", armored: "", certID: "", want: ""},
		{name: "both whitespace", armored: " \n ", certID: "  ", want: ""},
		{name: "uppercase id", armored: ed, certID: edFpr, want: edFpr},
		{name: "lowercase id", armored: ed, certID: strings.ToLower(edFpr), want: edFpr},
		{name: "gpg-style grouped id", armored: ed, certID: groupFingerprint(edFpr), want: edFpr},
		{name: "id with surrounding whitespace", armored: ed, certID: "  " + edFpr + "\n", want: edFpr},
		{name: "rsa key", armored: readTestdata(t, "pgp_rsa.asc"), certID: rsaFpr, want: rsaFpr},
		{name: "key without id", armored: ed, certID: "", wantField: "pgp_cert_id", wantErr: "is missing"},
		{name: "id without key", armored: "", certID: edFpr, wantField: "pgp_key", wantErr: "is missing"},
		{name: "mismatch", armored: ed, certID: rsaFpr, wantField: "pgp_cert_id", wantErr: "does not match the key's fingerprint " + edFpr},
		{name: "id not hex", armored: ed, certID: "G" + edFpr[1:], wantField: "pgp_cert_id", wantErr: "must be 40 hexadecimal digits"},
		{name: "id too short (long key id)", armored: ed, certID: edFpr[24:], wantField: "pgp_cert_id", wantErr: "must be 40 hexadecimal digits"},
		{name: "id too long", armored: ed, certID: edFpr + "00", wantField: "pgp_cert_id", wantErr: "must be 40 hexadecimal digits"},
		{name: "id with 0x prefix", armored: ed, certID: "0x" + edFpr, wantField: "pgp_cert_id", wantErr: "must be 40 hexadecimal digits"},
		{name: "invalid key", armored: "not a key", certID: edFpr, wantField: "pgp_key", wantErr: "not an ASCII-armored OpenPGP public key"},
		{name: "private key", armored: private, certID: edFpr, wantField: "pgp_key", wantErr: "a private key was given"},
		// Both wrong: both errors, the key's first as on the form.
		{name: "invalid key and id", armored: "not a key", certID: "xyz", wantField: "pgp_key",
			wantErr: "not an ASCII-armored OpenPGP public key; it must start with -----BEGIN PGP PUBLIC KEY BLOCK----- and end with -----END PGP PUBLIC KEY BLOCK-----; pgp_cert_id: must be 40 hexadecimal digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.CheckPGP(tc.armored, tc.certID)
			if tc.wantField != "" {
				checkErr(t, err, tc.wantField, tc.wantErr)
				if got != "" {
					t.Errorf("CheckPGP returned %q with an error, want \"\"", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckPGP: unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("CheckPGP = %q, want %q", got, tc.want)
			}
		})
	}
}
