package stationrpc

import (
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// Defguard's published v1/worker/worker.proto (repository DefGuard/proto),
// written down here field by field rather than fetched, so that a change to
// Herald's .proto that would break Defguard's provisioner fails this test.
// Defguard 1.x's worker/worker.proto (package "worker") and DefGuard/proto's
// v2/worker/worker.proto (package "defguard.worker.v2") have the same
// messages and numbers.
type defguardField struct {
	name string
	num  protowire.Number
	kind protoreflect.Kind
}

var defguardMessages = map[string][]defguardField{
	"Worker": {
		{"id", 1, protoreflect.StringKind},
	},
	"JobStatus": {
		{"id", 1, protoreflect.StringKind},
		{"job_id", 2, protoreflect.Uint32Kind},
		{"success", 3, protoreflect.BoolKind},
		{"public_key", 4, protoreflect.StringKind},
		{"ssh_key", 5, protoreflect.StringKind},
		{"yubikey_serial", 6, protoreflect.StringKind},
		{"error", 7, protoreflect.StringKind},
	},
	"GetJobResponse": {
		{"first_name", 1, protoreflect.StringKind},
		{"last_name", 2, protoreflect.StringKind},
		{"email", 3, protoreflect.StringKind},
		{"job_id", 4, protoreflect.Uint32Kind},
	},
}

const defguardPackage = "defguard.worker.v1"

var defguardMethods = []struct{ name, input, output string }{
	{"RegisterWorker", defguardPackage + ".Worker", "google.protobuf.Empty"},
	{"GetJob", defguardPackage + ".Worker", defguardPackage + ".GetJobResponse"},
	{"SetJobDone", defguardPackage + ".JobStatus", "google.protobuf.Empty"},
}

// heraldMessages are Herald's generated types, by message name.
func heraldMessages() map[string]proto.Message {
	return map[string]proto.Message{
		"Worker":         &workerpb.Worker{},
		"JobStatus":      &workerpb.JobStatus{},
		"GetJobResponse": &workerpb.GetJobResponse{},
	}
}

// sample is a distinct value for each field: a field that moved would
// carry another field's value.
func sample(f defguardField) protoreflect.Value {
	switch f.kind {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("value of " + f.name + " é")
	case protoreflect.Uint32Kind:
		// Above 2^31: an int32 or sint32 field would not carry it as is.
		return protoreflect.ValueOfUint32(4_000_000_000 + uint32(f.num))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	}
	panic("no sample for " + f.kind.String())
}

func wireType(k protoreflect.Kind) protowire.Type {
	if k == protoreflect.StringKind {
		return protowire.BytesType
	}
	return protowire.VarintType
}

// Herald's messages have exactly Defguard's names, packages, fields,
// numbers and types.
func TestDescriptorsMatchDefguard(t *testing.T) {
	for name, m := range heraldMessages() {
		d := m.ProtoReflect().Descriptor()
		if string(d.FullName()) != defguardPackage+"."+name {
			t.Errorf("message %s is named %s", name, d.FullName())
		}
		want := defguardMessages[name]
		if d.Fields().Len() != len(want) {
			t.Errorf("%s has %d fields, Defguard's has %d", name, d.Fields().Len(), len(want))
		}
		for _, f := range want {
			fd := d.Fields().ByName(protoreflect.Name(f.name))
			if fd == nil {
				t.Errorf("%s has no field %s", name, f.name)
				continue
			}
			if fd.Number() != f.num || fd.Kind() != f.kind || fd.Cardinality() != protoreflect.Optional || fd.HasPresence() {
				t.Errorf("%s.%s is %s %v = %d (presence %v), Defguard's is %v = %d", name, f.name, fd.Cardinality(), fd.Kind(), fd.Number(), fd.HasPresence(), f.kind, f.num)
			}
		}
	}
}

// What Herald sends decodes field by field under Defguard's numbers and
// wire types.
func TestEncodingMatchesDefguard(t *testing.T) {
	for name, m := range heraldMessages() {
		r := m.ProtoReflect()
		for _, f := range defguardMessages[name] {
			fd := r.Descriptor().Fields().ByName(protoreflect.Name(f.name))
			if fd == nil {
				t.Fatalf("%s has no field %s", name, f.name)
			}
			r.Set(fd, sample(f))
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := map[protowire.Number]bool{}
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("%s: bad tag: %v", name, protowire.ParseError(n))
			}
			b = b[n:]
			f, ok := fieldByNumber(name, num)
			if !ok {
				t.Fatalf("%s: field number %d on the wire, which Defguard's %s does not have", name, num, name)
			}
			if typ != wireType(f.kind) {
				t.Fatalf("%s.%s: wire type %d, want %d", name, f.name, typ, wireType(f.kind))
			}
			var v protoreflect.Value
			switch f.kind {
			case protoreflect.StringKind:
				s, n := protowire.ConsumeString(b)
				b, v = b[max(n, 0):], protoreflect.ValueOfString(s)
			case protoreflect.Uint32Kind:
				x, n := protowire.ConsumeVarint(b)
				b, v = b[max(n, 0):], protoreflect.ValueOfUint32(uint32(x))
			case protoreflect.BoolKind:
				x, n := protowire.ConsumeVarint(b)
				b, v = b[max(n, 0):], protoreflect.ValueOfBool(protowire.DecodeBool(x))
			}
			if !v.Equal(sample(f)) {
				t.Errorf("%s field %d (%s) carries %v, want %v", name, num, f.name, v, sample(f))
			}
			got[num] = true
		}
		if len(got) != len(defguardMessages[name]) {
			t.Errorf("%s: %d fields on the wire, want %d", name, len(got), len(defguardMessages[name]))
		}
	}
}

// What Defguard's side sends, encoded by hand from its numbering, decodes
// into Herald's fields of the same names with nothing left over.
func TestDecodingDefguardBytes(t *testing.T) {
	for name, m := range heraldMessages() {
		var b []byte
		for _, f := range defguardMessages[name] {
			b = protowire.AppendTag(b, f.num, wireType(f.kind))
			switch v := sample(f); f.kind {
			case protoreflect.StringKind:
				b = protowire.AppendString(b, v.String())
			case protoreflect.Uint32Kind:
				b = protowire.AppendVarint(b, v.Uint())
			case protoreflect.BoolKind:
				b = protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
			}
		}
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := m.ProtoReflect()
		if len(r.GetUnknown()) > 0 {
			t.Errorf("%s: Herald does not know some of Defguard's fields (%d unknown bytes)", name, len(r.GetUnknown()))
		}
		for _, f := range defguardMessages[name] {
			fd := r.Descriptor().Fields().ByName(protoreflect.Name(f.name))
			if fd == nil {
				t.Fatalf("%s has no field %s", name, f.name)
			}
			if got := r.Get(fd); !got.Equal(sample(f)) {
				t.Errorf("%s.%s = %v, want %v", name, f.name, got, sample(f))
			}
		}
	}
}

func fieldByNumber(msg string, num protowire.Number) (defguardField, bool) {
	for _, f := range defguardMessages[msg] {
		if f.num == num {
			return f, true
		}
	}
	return defguardField{}, false
}

// The service's name, its methods' full names (the HTTP/2 paths a client
// calls) and their types are Defguard's, and the server answers under
// the v2 package's and Defguard 1.x's service names too.
func TestServiceMatchesDefguard(t *testing.T) {
	sd := workerpb.File_defguard_worker_v1_worker_proto.Services().ByName("WorkerService")
	if sd == nil || sd.FullName() != defguardPackage+".WorkerService" {
		t.Fatalf("service = %v", sd)
	}
	if sd.Methods().Len() != len(defguardMethods) {
		t.Errorf("%d methods, Defguard's service has %d", sd.Methods().Len(), len(defguardMethods))
	}
	for _, m := range defguardMethods {
		md := sd.Methods().ByName(protoreflect.Name(m.name))
		if md == nil {
			t.Errorf("no method %s", m.name)
			continue
		}
		if string(md.Input().FullName()) != m.input || string(md.Output().FullName()) != m.output || md.IsStreamingClient() || md.IsStreamingServer() {
			t.Errorf("%s(%s) returns %s, want unary %s(%s) returns %s", m.name, md.Input().FullName(), md.Output().FullName(), m.name, m.input, m.output)
		}
	}
	for got, want := range map[string]string{
		workerpb.WorkerService_RegisterWorker_FullMethodName: "/defguard.worker.v1.WorkerService/RegisterWorker",
		workerpb.WorkerService_GetJob_FullMethodName:         "/defguard.worker.v1.WorkerService/GetJob",
		workerpb.WorkerService_SetJobDone_FullMethodName:     "/defguard.worker.v1.WorkerService/SetJobDone",
	} {
		if got != want {
			t.Errorf("method path %s, want %s", got, want)
		}
	}

	srv, err := NewServer(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := srv.GetServiceInfo()
	for _, service := range []string{"defguard.worker.v1.WorkerService", "defguard.worker.v2.WorkerService", "worker.WorkerService"} {
		var methods []string
		for _, m := range info[service].Methods {
			methods = append(methods, m.Name)
		}
		sort.Strings(methods)
		if got := strings.Join(methods, ","); got != "GetJob,RegisterWorker,SetJobDone" {
			t.Errorf("the server offers %s with methods %q", service, got)
		}
	}
	if len(info) != 3 {
		t.Errorf("the server offers %d services, want 3", len(info))
	}
}
