package directory

import (
	"strings"
	"testing"
)

func TestSCIMTargetInputValidation(t *testing.T) {
	long := strings.Repeat("n", 129)
	empty, spaced := "", "two words"
	for _, tc := range []struct {
		name        string
		in          SCIMTargetInput
		field       string // "" for valid
		message     string
		deprovision string
	}{
		{name: "defaults", deprovision: "deactivate"},
		{name: "delete", in: SCIMTargetInput{Deprovision: "delete"}, deprovision: "delete"},
		{name: "empty token removes", in: SCIMTargetInput{Token: &empty}, deprovision: "deactivate"},
		{name: "unknown deprovision", in: SCIMTargetInput{Deprovision: "Delete"}, field: "deprovision", message: "delete or deactivate"},
		{name: "no name", in: SCIMTargetInput{Name: "  "}, field: "name", message: "required"},
		{name: "long name", in: SCIMTargetInput{Name: long}, field: "name", message: "128"},
		{name: "no base_url", in: SCIMTargetInput{BaseURL: " "}, field: "base_url", message: "required"},
		{name: "ftp base_url", in: SCIMTargetInput{BaseURL: "ftp://app.example.com/scim"}, field: "base_url", message: "http"},
		{name: "credentials in base_url", in: SCIMTargetInput{BaseURL: "https://u:p@app.example.com/scim"}, field: "base_url", message: "password"},
		{name: "fragment", in: SCIMTargetInput{BaseURL: "https://app.example.com/scim#x"}, field: "base_url", message: "fragment"},
		// Herald appends /Users and /Groups: after a query they would be
		// part of the query, and every call would miss the endpoint.
		{name: "query", in: SCIMTargetInput{BaseURL: "https://app.example.com/scim/v2?tenant=a"}, field: "base_url", message: "query"},
		{name: "empty query", in: SCIMTargetInput{BaseURL: "https://app.example.com/scim/v2?"}, field: "base_url", message: "query"},
		{name: "trailing slash", in: SCIMTargetInput{BaseURL: "https://app.example.com/scim/v2/"}, deprovision: "deactivate"},
		{name: "token with a space", in: SCIMTargetInput{Token: &spaced}, field: "token"},
		{name: "bad group", in: SCIMTargetInput{OnlyGroups: []string{"Dev Ops"}}, field: "only_groups", message: `"Dev Ops"`},
		{name: "too many groups", in: SCIMTargetInput{OnlyGroups: manyNames(maxFilterEntries + 1)}, field: "only_groups", message: "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Name == "" {
				in.Name = "App"
			}
			if in.BaseURL == "" {
				in.BaseURL = "https://app.example.com/scim/v2"
			}
			err := in.validate()
			checkValidation(t, err, tc.field != "", tc.field)
			if tc.field != "" {
				if !strings.Contains(err.Error(), tc.message) {
					t.Errorf("message %q does not say %q", err, tc.message)
				}
				return
			}
			if in.Deprovision != tc.deprovision {
				t.Errorf("deprovision normalised to %q, want %q", in.Deprovision, tc.deprovision)
			}
		})
	}
}
