package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// authzRows is TestAuthorizationMatrix's table: every route, who may call
// it with what answer, and what state the call must leave behind.
func authzRows() []authzRow {
	const (
		ok        = http.StatusOK
		created   = http.StatusCreated
		noContent = http.StatusNoContent
	)
	scimPath := func(suffix string) func(*authzFixture) string {
		return func(f *authzFixture) string { return fmt.Sprintf("/api/v1/scim_target/%d%s", f.webhook, suffix) }
	}
	webhookPath := func(suffix string) func(*authzFixture) string {
		return func(f *authzFixture) string { return fmt.Sprintf("/api/v1/webhook/%d%s", f.webhook, suffix) }
	}
	userPath := func(suffix string) func(*authzFixture) string {
		return func(f *authzFixture) string { return "/api/v1/user/" + f.user + suffix }
	}
	fullUser := func(groups []string) func(*authzFixture) any {
		return func(f *authzFixture) any {
			return map[string]any{
				"first_name": "Replaced", "last_name": "User", "email": f.email, "phone": "+48 123 456 789",
				"ssh_key": "", "pgp_key": "", "pgp_cert_id": "", "groups": groups,
			}
		}
	}
	return []authzRow{
		// Sessions and API tokens.
		{
			route: "POST /api/v1/auth", name: "right password", path: authzFixed("/api/v1/auth"),
			body: func(f *authzFixture) any { return map[string]string{"username": f.user, "password": f.password} },
			want: authzEveryone(ok),
		},
		{
			route: "POST /api/v1/auth", name: "wrong password", path: authzFixed("/api/v1/auth"),
			body: func(f *authzFixture) any {
				return map[string]string{"username": f.user, "password": "not-the-password"}
			},
			want: authzEveryone(http.StatusUnauthorized),
		},
		{
			route: "POST /api/v1/auth/logout", path: authzFixed("/api/v1/auth/logout"), freshSession: true,
			want: authzEveryone(noContent),
		},
		{
			route: "GET /api/v1/me", path: authzFixed("/api/v1/me"),
			// A station is authenticated but has no profile: not allowed.
			want: authzWant(http.StatusUnauthorized, ok, ok, ok, http.StatusForbidden),
		},
		{
			route: "POST /api/v1/user/{username}/api_token", path: userPath("/api_token"),
			body: func(*authzFixture) any { return map[string]string{"name": "ci"} },
			want: authzSelfOrAdmin(created),
		},
		{
			route: "GET /api/v1/user/{username}/api_token", path: userPath("/api_token"),
			want: authzSelfOrAdmin(ok),
		},
		{
			route: "DELETE /api/v1/user/{username}/api_token/{id}", setup: authzNewToken,
			path: func(f *authzFixture) string {
				return "/api/v1/user/" + f.user + "/api_token/" + strconv.FormatInt(f.tokenID, 10)
			},
			check: func(f *authzFixture, allowed bool) {
				var list []struct{ ID int64 }
				f.admin.expect(ok, "GET", "/api/v1/user/"+f.user+"/api_token", nil, &list)
				listed := slices.ContainsFunc(list, func(x struct{ ID int64 }) bool { return x.ID == f.tokenID })
				authzWantState(f, "token listed", listed, !allowed)
			},
			want: authzSelfOrAdmin(noContent),
		},

		// Users.
		{route: "GET /api/v1/user", path: authzFixed("/api/v1/user"), want: authzAdminOnly(ok)},
		{
			route: "POST /api/v1/user", path: authzFixed("/api/v1/user"),
			body: func(*authzFixture) any {
				return map[string]string{"username": "newbie", "first_name": "New", "last_name": "Bie", "email": "newbie@example.com", "password": "newbie-password"}
			},
			check: func(f *authzFixture, allowed bool) { f.exists("/api/v1/user/newbie", false, allowed) },
			want:  authzAdminOnly(created),
		},
		{
			route: "POST /api/v1/user/available", path: authzFixed("/api/v1/user/available"),
			body: func(*authzFixture) any { return map[string]string{"username": "free-name"} },
			want: authzAdminOnly(ok),
		},
		{route: "GET /api/v1/user/{username}", path: userPath(""), want: authzSelfOrAdmin(ok)},
		{
			route: "PUT /api/v1/user/{username}", name: "profile", fresh: true, path: userPath(""),
			body: fullUser([]string{}),
			check: func(f *authzFixture, allowed bool) {
				_, u := f.getUser(f.user)
				authzWantState(f, "first_name", u["first_name"], map[bool]string{true: "Replaced", false: "Fresh"}[allowed])
			},
			want: authzSelfOrAdmin(ok),
		},
		{
			route: "PUT /api/v1/user/{username}", name: "own groups", fresh: true, path: userPath(""),
			body: fullUser([]string{"staff"}),
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "groups", f.userGroups(), map[bool][]string{true: {"staff"}, false: {}}[allowed])
			},
			// Not even for themself: a user may not change their groups.
			want: authzAdminOnly(ok),
		},
		{
			route: "PATCH /api/v1/user/{username}", name: "profile", fresh: true, path: userPath(""),
			body: func(*authzFixture) any { return map[string]string{"first_name": "Patched", "ssh_key": authzSSHKey} },
			check: func(f *authzFixture, allowed bool) {
				_, u := f.getUser(f.user)
				authzWantState(f, "first_name", u["first_name"], map[bool]string{true: "Patched", false: "Fresh"}[allowed])
			},
			want: authzSelfOrAdmin(ok),
		},
		{
			route: "PATCH /api/v1/user/{username}", name: "groups", fresh: true, path: userPath(""),
			body: func(*authzFixture) any { return map[string]any{"groups": []string{"staff"}} },
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "groups", f.userGroups(), map[bool][]string{true: {"staff"}, false: {}}[allowed])
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "DELETE /api/v1/user/{username}", fresh: true, path: userPath(""),
			check: func(f *authzFixture, allowed bool) { f.exists("/api/v1/user/"+f.user, true, allowed) },
			want:  authzAdminOnly(noContent),
		},
		{
			route: "PUT /api/v1/user/{username}/password", name: "with old password", fresh: true, path: userPath("/password"),
			body: func(f *authzFixture) any {
				return map[string]string{"old_password": f.password, "new_password": "changed-password-1"}
			},
			check: func(f *authzFixture, allowed bool) { f.canLogin("changed-password-1", allowed) },
			want:  authzSelfOrAdmin(noContent),
		},
		{
			route: "PUT /api/v1/user/{username}/password", name: "without old password", fresh: true, path: userPath("/password"),
			body:  func(*authzFixture) any { return map[string]string{"new_password": "changed-password-1"} },
			check: func(f *authzFixture, allowed bool) { f.canLogin(f.password, !allowed) },
			// Admins need no old password; a user must give theirs.
			want: authzWant(http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest, noContent, http.StatusForbidden),
		},
		{
			route: "PUT /api/v1/user/{username}/password", name: "wrong old password", fresh: true, path: userPath("/password"),
			body: func(*authzFixture) any {
				return map[string]string{"old_password": "not-the-password", "new_password": "changed-password-1"}
			},
			check: func(f *authzFixture, allowed bool) { f.canLogin(f.password, !allowed) },
			want:  authzWant(http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest, noContent, http.StatusForbidden),
		},
		{
			route: "GET /api/v1/ssh_authorized_keys", name: "by username", path: authzFixed("/api/v1/ssh_authorized_keys?username=alice"),
			want: authzEveryone(ok),
		},
		{
			route: "GET /api/v1/ssh_authorized_keys", name: "by group", path: authzFixed("/api/v1/ssh_authorized_keys?group=staff"),
			want: authzEveryone(ok),
		},
		{
			route: "GET /api/v1/ssh_authorized_keys", name: "by username and group", path: authzFixed("/api/v1/ssh_authorized_keys?username=alice&group=staff"),
			want: authzEveryone(ok),
		},
		{
			route: "GET /api/v1/ssh_authorized_keys", name: "every key", path: authzFixed("/api/v1/ssh_authorized_keys"),
			want: authzEveryone(ok),
		},

		// Groups: admins only.
		{route: "GET /api/v1/group", path: authzFixed("/api/v1/group"), want: authzAdminOnly(ok)},
		{
			route: "POST /api/v1/group", path: authzFixed("/api/v1/group"),
			body:  func(f *authzFixture) any { return map[string]any{"name": "newgroup", "members": []string{f.user}} },
			check: func(f *authzFixture, allowed bool) { f.exists("/api/v1/group/newgroup", false, allowed) },
			want:  authzAdminOnly(created),
		},
		{route: "GET /api/v1/group/{name}", path: func(f *authzFixture) string { return "/api/v1/group/" + f.group }, want: authzAdminOnly(ok)},
		{
			route: "PUT /api/v1/group/{name}", name: "make the user an admin", fresh: true, setup: authzNewGroup(false),
			path: func(f *authzFixture) string { return "/api/v1/group/" + f.group },
			body: func(f *authzFixture) any { return map[string]any{"members": []string{f.user}, "is_admin": true} },
			check: func(f *authzFixture, allowed bool) {
				_, u := f.getUser(f.user)
				authzWantState(f, "is_admin", u["is_admin"], allowed)
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "DELETE /api/v1/group/{name}", setup: authzNewGroup(false),
			path:  func(f *authzFixture) string { return "/api/v1/group/" + f.group },
			check: func(f *authzFixture, allowed bool) { f.exists("/api/v1/group/"+f.group, true, allowed) },
			want:  authzAdminOnly(noContent),
		},
		{
			route: "POST /api/v1/group/{name}", name: "add the user", setup: authzNewGroup(false),
			path: func(f *authzFixture) string { return "/api/v1/group/" + f.group },
			body: func(f *authzFixture) any { return map[string]string{"username": f.user} },
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "members", f.groupMembers(), map[bool][]string{true: authzSorted("bob", f.user), false: {"bob"}}[allowed])
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "DELETE /api/v1/group/{name}/user/{username}", name: "remove the user", setup: authzNewGroup(true),
			path: func(f *authzFixture) string { return "/api/v1/group/" + f.group + "/user/" + f.user },
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "members", f.groupMembers(), map[bool][]string{true: {"bob"}, false: authzSorted("bob", f.user)}[allowed])
			},
			want: authzAdminOnly(noContent),
		},

		// Hardware key provisioning.
		{
			route: "POST /api/v1/worker/job", name: "for the user", path: authzFixed("/api/v1/worker/job"),
			body: func(f *authzFixture) any { return map[string]string{"username": f.user, "worker": "station2"} },
			want: authzSelfOrAdmin(created),
		},
		{
			route: "GET /api/v1/worker/{id}", name: "the user's job",
			path: func(f *authzFixture) string { return "/api/v1/worker/" + strconv.FormatInt(f.job, 10) },
			// Another user is not told the job exists.
			want: authzWant(http.StatusUnauthorized, http.StatusNotFound, ok, ok, http.StatusForbidden),
		},
		{
			route: "POST /api/v1/worker/token", path: authzFixed("/api/v1/worker/token"),
			body: func(*authzFixture) any { return map[string]string{"worker": "station9"} },
			want: authzAdminOnly(created),
		},
		{route: "GET /api/v1/worker/token", path: authzFixed("/api/v1/worker/token"), want: authzAdminOnly(ok)},
		{
			route: "DELETE /api/v1/worker/token/{id}", setup: authzNewStationToken,
			path: func(f *authzFixture) string { return "/api/v1/worker/token/" + strconv.FormatInt(f.tokenID, 10) },
			check: func(f *authzFixture, allowed bool) {
				var list []struct{ ID int64 }
				f.admin.expect(ok, "GET", "/api/v1/worker/token", nil, &list)
				listed := slices.ContainsFunc(list, func(x struct{ ID int64 }) bool { return x.ID == f.tokenID })
				authzWantState(f, "station token listed", listed, !allowed)
			},
			want: authzAdminOnly(noContent),
		},
		{
			route: "GET /api/v1/worker/job", name: "own station", setup: authzNewJob("station1"),
			path: authzFixed("/api/v1/worker/job?worker=station1"),
			check: func(f *authzFixture, allowed bool) {
				if !allowed {
					authzWantState(f, "job status", f.jobStatus(), "pending")
				}
			},
			want: authzStationOnly(ok),
		},
		{
			route: "GET /api/v1/worker/job", name: "another station", setup: authzNewJob("station2"),
			path:  authzFixed("/api/v1/worker/job?worker=station2"),
			check: func(f *authzFixture, _ bool) { authzWantState(f, "job status", f.jobStatus(), "pending") },
			want:  authzStationOnly(http.StatusForbidden),
		},
		{
			route: "POST /api/v1/worker/job/{id}/done", name: "failure", setup: authzRunningJob("station1"),
			path: func(f *authzFixture) string { return "/api/v1/worker/job/" + strconv.FormatInt(f.job, 10) + "/done" },
			body: func(*authzFixture) any { return map[string]any{"success": false, "error": "no key in the reader"} },
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "job status", f.jobStatus(), map[bool]string{true: "failed", false: "running"}[allowed])
			},
			want: authzStationOnly(ok),
		},
		{
			route: "POST /api/v1/worker/job/{id}/done", name: "success", fresh: true, setup: authzRunningJob("station1"),
			path: func(f *authzFixture) string { return "/api/v1/worker/job/" + strconv.FormatInt(f.job, 10) + "/done" },
			body: func(*authzFixture) any {
				return map[string]any{"success": true, "ssh_key": authzSSHKey, "pgp_key": "", "pgp_cert_id": "", "serial": "12345678"}
			},
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "job status", f.jobStatus(), map[bool]string{true: "done", false: "running"}[allowed])
				_, u := f.getUser(f.user)
				authzWantState(f, "ssh_key", u["ssh_key"], map[bool]string{true: authzSSHKey, false: ""}[allowed])
			},
			want: authzStationOnly(ok),
		},
		{
			route: "POST /api/v1/worker/job/{id}/done", name: "another station's job", setup: authzRunningJob("station2"),
			path:  func(f *authzFixture) string { return "/api/v1/worker/job/" + strconv.FormatInt(f.job, 10) + "/done" },
			body:  func(*authzFixture) any { return map[string]any{"success": false, "error": "not mine"} },
			check: func(f *authzFixture, _ bool) { authzWantState(f, "job status", f.jobStatus(), "running") },
			want:  authzStationOnly(http.StatusForbidden),
		},

		// Webhooks: admins only, like every call there.
		{route: "GET /api/v1/webhook", path: authzFixed("/api/v1/webhook"), want: authzAdminOnly(ok)},
		{
			route: "POST /api/v1/webhook", path: authzFixed("/api/v1/webhook"),
			body: func(f *authzFixture) any {
				return map[string]any{"url": f.env.receiver.URL + "/new", "description": "new hook", "on_user_modified": true}
			},
			check: func(f *authzFixture, allowed bool) {
				var list []struct{ Description string }
				f.admin.expect(ok, "GET", "/api/v1/webhook", nil, &list)
				found := slices.ContainsFunc(list, func(w struct{ Description string }) bool { return w.Description == "new hook" })
				authzWantState(f, "new webhook listed", found, allowed)
			},
			want: authzAdminOnly(created),
		},
		{route: "GET /api/v1/webhook/{id}", path: webhookPath(""), want: authzAdminOnly(ok)},
		{
			route: "PUT /api/v1/webhook/{id}", setup: authzNewWebhook, path: webhookPath(""),
			body: func(f *authzFixture) any {
				return map[string]any{"url": f.env.receiver.URL + "/replaced", "description": "replaced", "on_user_created": true, "method": "POST"}
			},
			check: func(f *authzFixture, allowed bool) {
				_, w := f.getWebhook()
				authzWantState(f, "description", w["description"], map[bool]string{true: "replaced", false: "spare"}[allowed])
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "DELETE /api/v1/webhook/{id}", setup: authzNewWebhook, path: webhookPath(""),
			check: func(f *authzFixture, allowed bool) {
				f.exists(fmt.Sprintf("/api/v1/webhook/%d", f.webhook), true, allowed)
			},
			want: authzAdminOnly(noContent),
		},
		{
			route: "POST /api/v1/webhook/{id}", name: "disable", setup: authzNewWebhook, path: webhookPath(""),
			body: func(*authzFixture) any { return map[string]bool{"enabled": false} },
			check: func(f *authzFixture, allowed bool) {
				_, w := f.getWebhook()
				authzWantState(f, "enabled", w["enabled"], !allowed)
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "POST /api/v1/webhook/{id}/rotate_secret", setup: authzNewWebhook, path: webhookPath("/rotate_secret"),
			want: authzAdminOnly(ok),
		},
		{
			route: "POST /api/v1/webhook/{id}/test", path: webhookPath("/test"),
			setup: func(f *authzFixture) { f.env.testSent.Store(0) },
			check: func(f *authzFixture, allowed bool) {
				authzWantState(f, "webhook_test requests sent", f.env.testSent.Load(), map[bool]int64{true: 1, false: 0}[allowed])
			},
			want: authzAdminOnly(ok),
		},
		{route: "GET /api/v1/webhook/{id}/delivery", path: webhookPath("/delivery"), want: authzAdminOnly(ok)},
		{
			route: "GET /api/v1/webhook/{id}/delivery/{did}",
			path: func(f *authzFixture) string {
				return fmt.Sprintf("/api/v1/webhook/%d/delivery/%d", f.webhook, f.delivery)
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "POST /api/v1/webhook/{id}/delivery/{did}/redeliver",
			path: func(f *authzFixture) string {
				return fmt.Sprintf("/api/v1/webhook/%d/delivery/%d/redeliver", f.webhook, f.delivery)
			},
			want: authzAdminOnly(http.StatusAccepted),
		},
		{
			route: "POST /api/v1/webhook/{id}/replay", path: webhookPath("/replay"),
			body: func(*authzFixture) any { return map[string]string{"since": "2000-01-01T00:00:00Z"} },
			want: authzAdminOnly(http.StatusAccepted),
		},

		// SCIM targets: admins only, like webhooks. The setup makes one (in
		// f.webhook) at an address that refuses connections.
		{route: "GET /api/v1/scim_target", path: authzFixed("/api/v1/scim_target"), want: authzAdminOnly(ok)},
		{
			route: "POST /api/v1/scim_target", path: authzFixed("/api/v1/scim_target"),
			body: func(*authzFixture) any {
				return map[string]any{"name": "new target", "base_url": "http://127.0.0.1:9/scim/v2", "enabled": false}
			},
			check: func(f *authzFixture, allowed bool) {
				var list []struct{ Name string }
				f.admin.expect(ok, "GET", "/api/v1/scim_target", nil, &list)
				found := slices.ContainsFunc(list, func(w struct{ Name string }) bool { return w.Name == "new target" })
				authzWantState(f, "new SCIM target listed", found, allowed)
			},
			want: authzAdminOnly(created),
		},
		{route: "GET /api/v1/scim_target/{id}", setup: authzNewSCIMTarget, path: scimPath(""), want: authzAdminOnly(ok)},
		{
			route: "PUT /api/v1/scim_target/{id}", setup: authzNewSCIMTarget, path: scimPath(""),
			body: func(*authzFixture) any {
				return map[string]any{"name": "replaced", "base_url": "http://127.0.0.1:9/scim/v2"}
			},
			check: func(f *authzFixture, allowed bool) {
				var got struct{ Name string }
				f.admin.expect(ok, "GET", fmt.Sprintf("/api/v1/scim_target/%d", f.webhook), nil, &got)
				authzWantState(f, "name", got.Name, map[bool]string{true: "replaced", false: "spare"}[allowed])
			},
			want: authzAdminOnly(ok),
		},
		{
			route: "DELETE /api/v1/scim_target/{id}", setup: authzNewSCIMTarget, path: scimPath(""),
			check: func(f *authzFixture, allowed bool) {
				f.exists(fmt.Sprintf("/api/v1/scim_target/%d", f.webhook), true, allowed)
			},
			want: authzAdminOnly(noContent),
		},
		{
			route: "POST /api/v1/scim_target/{id}/resync", setup: authzNewSCIMTarget, path: scimPath("/resync"),
			want: authzAdminOnly(ok),
		},
		{route: "GET /api/v1/scim_target/{id}/deliveries", setup: authzNewSCIMTarget, path: scimPath("/deliveries"), want: authzAdminOnly(ok)},

		// Events, health and readiness.
		{route: "GET /api/v1/event", path: authzFixed("/api/v1/event"), want: authzAdminOnly(ok)},
		{route: "GET /api/v1/audit", path: authzFixed("/api/v1/audit"), want: authzAdminOnly(ok)},
		{route: "GET /api/v1/health", path: authzFixed("/api/v1/health"), want: authzEveryone(ok)},
		{route: "GET /api/v1/ready", path: authzFixed("/api/v1/ready"), want: authzEveryone(ok)},
		{route: "GET /api/v1/openapi.json", path: authzFixed("/api/v1/openapi.json"), want: authzEveryone(ok)},
		{route: "", name: "unknown endpoint", path: authzFixed("/api/v1/no-such-thing"), want: authzEveryone(http.StatusNotFound)},
	}
}
