package directory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// checkValidation fails the test unless err matches the expectation: nil
// when wantErr is false; otherwise an EINVALID error whose message starts
// with "field: ", so a client can show it next to the field.
func checkValidation(t *testing.T, err error, wantErr bool, field string) {
	t.Helper()
	if !wantErr {
		if err != nil {
			t.Fatalf("got error %q, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one for %s", field)
	}
	t.Logf("error: %s", err)
	if code := herald.ErrorCode(err); code != herald.EINVALID {
		t.Errorf("error %q has code %q, want %q", err, code, herald.EINVALID)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, field+": ") {
		t.Errorf("error %q does not start with %q", msg, field+": ")
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"one letter", "a", false},
		{"one digit", "7", false},
		{"plain", "jdoe", false},
		{"starts with digit", "0day", false},
		{"every allowed character", "j.doe_1-x", false},
		{"64 characters", strings.Repeat("a", 64), false},
		{"empty", "", true},
		{"65 characters", strings.Repeat("a", 65), true},
		{"starts with dash", "-x", true},
		{"starts with dot", ".x", true},
		{"starts with underscore", "_x", true},
		{"uppercase", "Jdoe", true},
		{"uppercase later", "jDoe", true},
		{"space", "j doe", true},
		{"non-ASCII letter", "jdoé", true},
		{"slash", "j/doe", true},
		{"at sign", "j@doe", true},
		{"trailing newline", "jdoe\n", true},
		{"NUL", "jd\x00oe", true},
		{"32 two-byte runes (64 bytes) still not allowed", strings.Repeat("é", 32), true},
	}
	for _, field := range []string{"username", "name"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				checkValidation(t, validateName(field, tt.in), tt.wantErr, field)
			})
		}
	}
}

func TestValidateWorker(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"station1", false},
		{"yubi-station.2", false},
		{"", true},
		{"Station1", false},
		{"YubikeyProvisioner", false}, // the provisioner's default --id
		{"YUBI-2", false},
		{"station 1", true},
		{"-station", true},
		{"_Station", true},
		{"stätion", true},
		{"station/1", true},
		{strings.Repeat("s", 64), false},
		{strings.Repeat("S", 65), true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkValidation(t, validateStation(tt.in), tt.wantErr, "worker")
		})
	}
}

// TestCanBeLoginName: a login names a user by username or email; anything
// else is wrong at once, without a lookup.
func TestCanBeLoginName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"admin", true},
		{"jane.doe-2", true},
		{"jane@example.com", true},
		{"Jane.Doe@Example.COM", true},
		{"", false},
		{"ad\x00min", false},
		{"a\x00b@example.com", false},
		{"ad\xffmin", false},
		{"x\xff@example.com", false},
		{"Admin", false},
		{"jane doe", false},
		{"jane\n@example.com", false},
		{"Jane <jane@example.com>", false},
		{"\"a\\\x01\"@example.com", false},
		{"jane@localhost", false},
	}
	for _, tt := range tests {
		if got := canBeLoginName(tt.name); got != tt.ok {
			t.Errorf("canBeLoginName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"plain", "jane@example.com", false},
		{"dots, plus and subdomains", "jane.doe+tag@mail.example.co.uk", false},
		{"short", "a@b.cd", false},
		{"uppercase", "Jane.Doe@Example.COM", false},
		{"digits and dashes", "j-1@my-host1.example", false},
		{"254 characters", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", false},
		{"empty", "", true},
		{"255 characters", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", true},
		{"no at", "jane.example.com", true},
		{"no domain", "jane@", true},
		{"no local part", "@example.com", true},
		{"domain without dot", "jane@localhost", true},
		{"domain ends with dot", "jane@example.com.", true},
		{"domain starts with dot", "jane@.example.com", true},
		{"two ats", "jane@@example.com", true},
		{"with display name", "Jane <jane@example.com>", true},
		{"in angle brackets", "<jane@example.com>", true},
		{"two addresses", "jane@example.com, bob@example.com", true},
		{"space inside", "jane doe@example.com", true},
		{"leading space", " jane@example.com", true},
		{"newline", "jane@example.com\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidation(t, validateEmail(tt.in), tt.wantErr, "email")
		})
	}
}

func TestValidateText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		wantErr bool
	}{
		{"empty", "", 128, false},
		{"plain", "Jane", 128, false},
		{"non-ASCII", "Zoë Łukasiewicz-Ñúñez 王", 128, false},
		{"exactly max ASCII", strings.Repeat("a", 128), 128, false},
		{"exactly max two-byte runes (counted as characters, not bytes)", strings.Repeat("é", 128), 128, false},
		{"spaces and punctuation", "O'Brien, Jr. (the 3rd)", 128, false},
		{"max plus one", strings.Repeat("a", 129), 128, true},
		{"max plus one two-byte runes", strings.Repeat("é", 129), 128, true},
		{"small max", "abcd", 3, true},
		{"newline", "Jane\nDoe", 128, true},
		{"carriage return", "Jane\r", 128, true},
		{"tab", "Jane\tDoe", 128, true},
		{"NUL", "Jane\x00", 128, true},
		{"escape", "\x1b[31mJane", 128, true},
		{"DEL", "Jane\x7f", 128, true},
		{"invalid UTF-8", "Jane\xff", 128, true},
		{"truncated UTF-8", "Jan\xc3", 128, true},
	}
	for _, field := range []string{"first_name", "last_name"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				checkValidation(t, validateText(field, tt.in, tt.max), tt.wantErr, field)
			})
		}
	}
}

// TestCleanText: what a station reports about a failure is made to fit
// instead of refused, and what comes out always passes validateText.
func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "No keys detected", 1000, "No keys detected"},
		{"newlines become spaces", "gpg failed:\nno card\r\n", 1000, "gpg failed: no card"},
		{"tab, escape, NUL, DEL", "a\tb\x1b[31mc\x00d\x7f", 1000, "a b [31mc d"},
		{"line separators", "a\u2028b\u2029c", 1000, "a b c"},
		{"invalid UTF-8", "bad \xff byte", 1000, "bad \uFFFD byte"},
		{"cut to max characters", strings.Repeat("é", 70), 64, strings.Repeat("é", 64)},
		{"cut, then trimmed", strings.Repeat("a", 63) + "  b", 64, strings.Repeat("a", 63)},
		{"only control characters", "\n\t", 1000, ""},
		{"non-ASCII kept", "Zoë 王", 1000, "Zoë 王"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cleanText(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if err := validateText("error", got, tt.max); err != nil {
				t.Errorf("cleanText(%q) = %q, which validateText refuses: %v", tt.in, got, err)
			}
		})
	}
}

func TestValidatePhone(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"empty", "", false},
		{"digits", "123456789", false},
		{"international", "+48 123 456 789", false},
		{"parentheses and dash", "(555) 123-4567", false},
		{"dots", "555.123.4567", false},
		{"32 characters", strings.Repeat("1", 32), false},
		{"33 characters", strings.Repeat("1", 33), true},
		{"letter", "123a", true},
		{"extension word", "555-1234 ext 5", true},
		{"slash", "+48/123", true},
		{"comma", "123,456", true},
		{"fullwidth digits", "１２３", true},
		{"newline", "123\n456", true},
		{"tab", "123\t456", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidation(t, validatePhone(tt.in), tt.wantErr, "phone")
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"8 characters", "12345678", false},
		{"long phrase", "correct horse battery staple", false},
		{"8 two-byte runes", "ąęółśżźć", false},
		{"1024 bytes", strings.Repeat("p", 1024), false},
		{"empty", "", true},
		{"7 characters", "1234567", true},
		{"7 two-byte runes (14 bytes) are 7 characters", "ąęółśżź", true},
		{"1025 bytes", strings.Repeat("p", 1025), true},
		{"600 two-byte runes (1200 bytes)", strings.Repeat("ą", 600), true},
	}
	for _, field := range []string{"password", "new_password"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				checkValidation(t, validatePassword(field, tt.in), tt.wantErr, field)
			})
		}
	}
}

// keyFile returns a file from the keys package's test data.
func keyFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "keys", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateProfile(t *testing.T) {
	sshEd25519 := keyFile(t, "ssh_ed25519.pub")
	sshRSA := keyFile(t, "ssh_rsa.pub")
	sshRSA1024 := keyFile(t, "ssh_rsa1024.pub")
	sshDSA := keyFile(t, "ssh_dsa.pub")
	pgpKey := keyFile(t, "pgp_ed25519.asc")
	pgpFpr := strings.TrimSpace(keyFile(t, "pgp_ed25519.fpr"))
	otherFpr := strings.TrimSpace(keyFile(t, "pgp_rsa.fpr"))
	pgpTwoKeys := keyFile(t, "pgp_two_keys.asc")

	if pgpFpr == otherFpr || len(pgpFpr) != 40 {
		t.Fatalf("unexpected test fingerprints %q, %q", pgpFpr, otherFpr)
	}

	// A damaged key: the armor is intact, the packet data is not.
	lines := strings.Split(strings.TrimSpace(pgpKey), "\n")
	broken := make([]string, 0, len(lines))
	for i, l := range lines {
		if i == 2 { // the first base64 line, after the BEGIN line and the blank line
			l = strings.Repeat("A", len(l))
		}
		broken = append(broken, l)
	}
	pgpBroken := strings.Join(broken, "\n")
	if !strings.HasPrefix(lines[0], "-----BEGIN PGP PUBLIC KEY BLOCK-----") || lines[2] == broken[2] {
		t.Fatalf("unexpected layout of pgp_ed25519.asc")
	}
	// A truncated key: armor lines present, most of the body gone.
	pgpTruncated := lines[0] + "\n\n" + lines[2] + "\n" + lines[len(lines)-1]
	// gpg prints fingerprints in groups of four.
	var grouped []string
	for i := 0; i < len(pgpFpr); i += 4 {
		grouped = append(grouped, pgpFpr[i:i+4])
	}
	pgpFprGrouped := strings.Join(grouped, " ")

	base := func() herald.User {
		return herald.User{FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Phone: "+48 123-456-789"}
	}
	tests := []struct {
		name   string
		modify func(u *herald.User)
		// wantField is the field the error must name; "" for no error.
		wantField string
		// check, if set, inspects the normalised user on success.
		check func(t *testing.T, u herald.User)
	}{
		{name: "valid without keys", modify: func(*herald.User) {}, check: func(t *testing.T, u herald.User) {
			if u.SSHKey != "" || u.PGPKey != "" || u.PGPCertID != "" {
				t.Errorf("keys appeared from nowhere: %+v", u)
			}
		}},
		{name: "empty names and phone", modify: func(u *herald.User) { u.FirstName, u.LastName, u.Phone = "", "", "" }},
		{name: "first_name 129 characters", modify: func(u *herald.User) { u.FirstName = strings.Repeat("a", 129) }, wantField: "first_name"},
		{name: "first_name 128 characters", modify: func(u *herald.User) { u.FirstName = strings.Repeat("ł", 128) }},
		{name: "first_name with newline", modify: func(u *herald.User) { u.FirstName = "Jane\nDoe" }, wantField: "first_name"},
		{name: "last_name with control character", modify: func(u *herald.User) { u.LastName = "Doe\x00" }, wantField: "last_name"},
		{name: "last_name invalid UTF-8", modify: func(u *herald.User) { u.LastName = "D\xffe" }, wantField: "last_name"},
		{name: "email missing", modify: func(u *herald.User) { u.Email = "" }, wantField: "email"},
		{name: "email invalid", modify: func(u *herald.User) { u.Email = "jane" }, wantField: "email"},
		{name: "phone invalid", modify: func(u *herald.User) { u.Phone = "call me" }, wantField: "phone"},

		{name: "ssh ed25519", modify: func(u *herald.User) { u.SSHKey = sshEd25519 }, check: func(t *testing.T, u herald.User) {
			if want := strings.TrimSpace(sshEd25519); u.SSHKey != want {
				t.Errorf("ssh_key = %q, want it trimmed to %q", u.SSHKey, want)
			}
		}},
		{name: "ssh rsa", modify: func(u *herald.User) { u.SSHKey = sshRSA }, check: func(t *testing.T, u herald.User) {
			if want := strings.TrimSpace(sshRSA); u.SSHKey != want {
				t.Errorf("ssh_key = %q, want %q", u.SSHKey, want)
			}
		}},
		{name: "ssh key surrounded by whitespace", modify: func(u *herald.User) { u.SSHKey = "\n  " + sshEd25519 + "  \n" }, check: func(t *testing.T, u herald.User) {
			if want := strings.TrimSpace(sshEd25519); u.SSHKey != want {
				t.Errorf("ssh_key = %q, want %q", u.SSHKey, want)
			}
		}},
		{name: "ssh key only whitespace is no key", modify: func(u *herald.User) { u.SSHKey = " \n\t" }, check: func(t *testing.T, u herald.User) {
			if u.SSHKey != "" {
				t.Errorf("ssh_key = %q, want empty", u.SSHKey)
			}
		}},
		{name: "ssh garbage", modify: func(u *herald.User) { u.SSHKey = "not a key" }, wantField: "ssh_key"},
		{name: "ssh truncated", modify: func(u *herald.User) { u.SSHKey = sshEd25519[:40] }, wantField: "ssh_key"},
		{name: "ssh two keys", modify: func(u *herald.User) { u.SSHKey = sshEd25519 + "\n" + sshRSA }, wantField: "ssh_key"},
		{name: "ssh rsa 1024 too short", modify: func(u *herald.User) { u.SSHKey = sshRSA1024 }, wantField: "ssh_key"},
		{name: "ssh dsa", modify: func(u *herald.User) { u.SSHKey = sshDSA }, wantField: "ssh_key"},
		{name: "ssh key given as pgp key", modify: func(u *herald.User) { u.SSHKey = pgpKey }, wantField: "ssh_key"},

		{name: "pgp key with its fingerprint", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, pgpFpr }, check: func(t *testing.T, u herald.User) {
			if u.PGPCertID != pgpFpr {
				t.Errorf("pgp_cert_id = %q, want %q", u.PGPCertID, pgpFpr)
			}
			if want := strings.TrimSpace(pgpKey); u.PGPKey != want {
				t.Errorf("pgp_key not stored trimmed")
			}
		}},
		{name: "pgp key without cert id gets it filled in", modify: func(u *herald.User) { u.PGPKey = pgpKey }, check: func(t *testing.T, u herald.User) {
			if u.PGPCertID != pgpFpr {
				t.Errorf("pgp_cert_id = %q, want it filled in as %q", u.PGPCertID, pgpFpr)
			}
		}},
		{name: "pgp key with blank cert id gets it filled in", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, "  " }, check: func(t *testing.T, u herald.User) {
			if u.PGPCertID != pgpFpr {
				t.Errorf("pgp_cert_id = %q, want it filled in as %q", u.PGPCertID, pgpFpr)
			}
		}},
		{name: "lowercase cert id is normalised to uppercase", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, strings.ToLower(pgpFpr) }, check: func(t *testing.T, u herald.User) {
			if u.PGPCertID != pgpFpr {
				t.Errorf("pgp_cert_id = %q, want %q", u.PGPCertID, pgpFpr)
			}
		}},
		{name: "grouped cert id is normalised", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, pgpFprGrouped }, check: func(t *testing.T, u herald.User) {
			if u.PGPCertID != pgpFpr {
				t.Errorf("pgp_cert_id = %q, want %q", u.PGPCertID, pgpFpr)
			}
		}},
		{name: "pgp key with another key's fingerprint", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, otherFpr }, wantField: "pgp_cert_id"},
		{name: "cert id not hex", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, strings.Repeat("Z", 40) }, wantField: "pgp_cert_id"},
		{name: "cert id too short", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpKey, pgpFpr[:16] }, wantField: "pgp_cert_id"},
		{name: "cert id without key", modify: func(u *herald.User) { u.PGPCertID = pgpFpr }, wantField: "pgp_key"},
		{name: "broken pgp key without cert id", modify: func(u *herald.User) { u.PGPKey = pgpBroken }, wantField: "pgp_key"},
		{name: "broken pgp key with cert id", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpBroken, pgpFpr }, wantField: "pgp_key"},
		{name: "truncated pgp key", modify: func(u *herald.User) { u.PGPKey, u.PGPCertID = pgpTruncated, pgpFpr }, wantField: "pgp_key"},
		{name: "pgp key not armored", modify: func(u *herald.User) { u.PGPKey = "mDMEawkAxRYJKwYBBAHaRw8BAQdAC4pY65w5gieLUIzz73h5ShWxPqSWJF65JinQ" }, wantField: "pgp_key"},
		{name: "pgp block with two keys", modify: func(u *herald.User) { u.PGPKey = pgpTwoKeys }, wantField: "pgp_key"},
		{name: "ssh key given as pgp key", modify: func(u *herald.User) { u.PGPKey = sshEd25519 }, wantField: "pgp_key"},

		{name: "both keys", modify: func(u *herald.User) { u.SSHKey, u.PGPKey, u.PGPCertID = sshEd25519, pgpKey, pgpFpr }},
		{name: "good ssh key, bad pgp key", modify: func(u *herald.User) { u.SSHKey, u.PGPKey, u.PGPCertID = sshEd25519, pgpKey, otherFpr }, wantField: "pgp_cert_id"},
		{name: "bad ssh key, good pgp key", modify: func(u *herald.User) { u.SSHKey, u.PGPKey, u.PGPCertID = "ssh-ed25519 AAAA", pgpKey, pgpFpr }, wantField: "ssh_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := base()
			tt.modify(&u)
			err := validateProfile(&u)
			checkValidation(t, err, tt.wantField != "", tt.wantField)
			if err == nil && tt.check != nil {
				tt.check(t, u)
			}
		})
	}
}
