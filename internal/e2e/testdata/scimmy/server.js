// A SCIM 2.0 service provider for Herald's end-to-end tests, built from
// scimmy (the SCIM resources, schemas, filters and patch operations),
// scimmy-routers (the SCIM HTTP endpoints) and express. Users and Groups
// are kept in memory. It is a second, independent implementation beside
// Herald's own Go one (internal/scimtest), so Herald's SCIM client is
// checked against a server nobody here wrote.
//
// Usage: node server.js [--port N] [--token T]  (or PORT, SCIM_TOKEN)
// It listens on 127.0.0.1 (port 0: any free one) and prints one line,
// "listening on http://127.0.0.1:PORT", once it accepts requests. SCIM is
// served under /scim with bearer-token authentication; the test knobs,
// outside SCIM and unauthenticated (loopback only), are:
//
//   POST /_test/fail?n=5[&status=500]   answer the next n SCIM requests with status
//   POST /_test/fail?ms=500[&status=500] answer every SCIM request with status for ms
//   POST /_test/reset                   drop every user and group (the provider lost its data)
//   GET  /_test/state                   {"users": [...], "groups": [...], "requests": [...]}
//
// "requests" lists every SCIM request in arrival order as
// {"method", "path", "status"} (the path with its query).

import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

function flag(name, env, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
    return process.env[env] ?? fallback;
}

const port = Number(flag("port", "PORT", "0"));
const token = flag("token", "SCIM_TOKEN", "test-token");

// The directory: id -> stored resource (plain JSON, as last written).
const users = new Map();
const groups = new Map();
const requests = [];
let failCount = 0;
let failUntil = 0;
let failStatus = 500;

function now() {
    return new Date().toISOString();
}

// plain turns a scimmy schema instance into the JSON it stands for,
// without the attributes the provider owns (id, meta, schemas) and the
// readOnly groups of a user (computed from the groups on the way out).
function plain(instance) {
    const out = JSON.parse(JSON.stringify(instance));
    delete out.id;
    delete out.meta;
    delete out.schemas;
    delete out.groups;
    return out;
}

function conflict(attr, value) {
    return new SCIMMY.Types.Error(409, "uniqueness", `${attr} "${value}" is already taken`);
}

function notFound(id) {
    return new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
}

// store writes a resource: a new one (no resource.id) or a replacement of
// the one resource.id names, after checking the unique attribute (a
// user's userName, a group's displayName; userName compared without regard
// to case, as RFC 7643 has it caseExact false).
function store(map, resource, data, unique, fold) {
    const key = (v) => (fold ? String(v ?? "").toLowerCase() : v);
    const old = resource.id ? map.get(resource.id) : undefined;
    if (resource.id && !old) throw notFound(resource.id);
    const value = data[unique];
    for (const [id, other] of map) {
        if (id !== resource.id && key(other[unique]) === key(value)) throw conflict(unique, value);
    }
    const at = now();
    if (old) {
        const stored = {...data, id: resource.id, meta: {...old.meta, lastModified: at}};
        map.set(resource.id, stored);
        return stored;
    }
    const id = crypto.randomUUID();
    const stored = {...data, id, meta: {created: at, lastModified: at}};
    map.set(id, stored);
    return stored;
}

// select answers an egress: the one resource asked for by id, or all
// that match the request's filter.
function select(map, resource, out) {
    if (resource.id) {
        const r = map.get(resource.id);
        if (!r) throw notFound(resource.id);
        return out(r);
    }
    const all = [...map.values()].map(out);
    return resource.filter ? resource.filter.match(all) : all;
}

function userOut(u) {
    const member = [...groups.values()]
        .filter((g) => (g.members ?? []).some((m) => m.value === u.id))
        .map((g) => ({value: g.id, display: g.displayName, type: "direct"}));
    return member.length ? {...u, groups: member} : u;
}

function groupOut(g) {
    return g;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .ingress((resource, instance) => store(users, resource, plain(instance), "userName", true))
    .egress((resource) => select(users, resource, userOut))
    .degress((resource) => {
        if (!users.delete(resource.id)) throw notFound(resource.id);
        // A deleted user leaves every group, as a directory would.
        for (const g of groups.values()) {
            if (g.members) g.members = g.members.filter((m) => m.value !== resource.id);
        }
    });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress((resource, instance) => {
        if (resource.id && !groups.has(resource.id)) throw notFound(resource.id);
        const data = plain(instance);
        // Members are a set: adding one who is a member already (a PATCH
        // "add" racing a PUT of the whole list) changes nothing (RFC 7644
        // 3.5.2.1), where scimmy's patch would append a second copy.
        if (data.members) {
            const seen = new Set();
            data.members = data.members.filter((m) => !seen.has(m.value) && seen.add(m.value));
        }
        for (const m of data.members ?? []) {
            if (!users.has(m.value) && !groups.has(m.value)) {
                throw new SCIMMY.Types.Error(400, "invalidValue", `member ${m.value} does not exist`);
            }
        }
        return store(groups, resource, data, "displayName", false);
    })
    .egress((resource) => select(groups, resource, groupOut))
    .degress((resource) => {
        if (!groups.delete(resource.id)) throw notFound(resource.id);
    });

const app = express();

// Express 5 parses req.query anew on every read, so scimmy-routers' cast
// of startIndex and count to numbers would be lost and every list would
// be one default page of 20; a fixed, writable query keeps the cast.
app.use((req, res, next) => {
    Object.defineProperty(req, "query", {value: {...req.query}, writable: true, configurable: true, enumerable: true});
    next();
});

app.post("/_test/fail", (req, res) => {
    failStatus = Number(req.query.status ?? 500);
    failCount = Number(req.query.n ?? 0);
    failUntil = req.query.ms ? Date.now() + Number(req.query.ms) : 0;
    res.status(204).end();
});

app.post("/_test/reset", (req, res) => {
    users.clear();
    groups.clear();
    res.status(204).end();
});

app.get("/_test/state", (req, res) => {
    res.json({users: [...users.values()].map(userOut), groups: [...groups.values()], requests});
});

// Every SCIM request is logged; while a failure knob is on, it is answered
// with the chosen status before scimmy sees it (so nothing changes).
app.use("/scim", (req, res, next) => {
    const entry = {method: req.method, path: req.originalUrl, status: 0};
    requests.push(entry);
    res.on("finish", () => {
        entry.status = res.statusCode;
    });
    if (failCount > 0 || Date.now() < failUntil) {
        if (failCount > 0) failCount--;
        res.status(failStatus).type("application/scim+json").send(JSON.stringify({
            schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
            status: String(failStatus),
            detail: "failing on purpose (test knob)",
        }));
        return;
    }
    next();
});

app.use("/scim", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Bearer token missing or wrong");
        return "herald";
    },
}));

const server = app.listen(port, "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

// The test harness ends the server by closing its stdin or with SIGTERM.
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
