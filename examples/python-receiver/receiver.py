#!/usr/bin/env python3
"""A small, complete receiver of Herald's webhooks, standard library only.

It checks the bearer token and the Standard Webhooks signature, drops
duplicates by webhook-id, and prints one line per event to stdout:

    user_created jdoe
    group_deleted devs

Settings come from the environment:

    RECEIVER_ADDR          address to listen on (default 127.0.0.1:9000)
    HERALD_SIGNING_SECRET  the webhook's signing_secret, "whsec_..." (required)
    HERALD_TOKEN           the webhook's secret token; checked when set

Run it with: python3 examples/python-receiver/receiver.py
docs/receivers.md explains every step.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How far webhook-timestamp may be from now. Herald stamps every attempt
# afresh, so only a replayed (captured) request is older.
TOLERANCE_SECONDS = 5 * 60
MAX_BODY = 1 << 20


# Requests are handled in threads: one print at a time, or lines can mix.
print_lock = threading.Lock()


def log(msg):
    with print_lock:
        print(msg, file=sys.stderr, flush=True)


def emit(*words):
    """Prints one line to stdout for an event."""
    with print_lock:
        print(*words, flush=True)


class SeenIDs:
    """Remembers the last `limit` webhook-ids seen.

    In memory, it forgets everything on restart: in production, keep the ids
    in your database, in the same transaction as the work they stand for.
    """

    def __init__(self, limit):
        self.limit = limit
        self.ids = OrderedDict()  # oldest first
        self.lock = threading.Lock()  # requests are handled in threads

    def add(self, webhook_id):
        """Records the id; returns False if it was already there."""
        with self.lock:
            if webhook_id in self.ids:
                return False
            self.ids[webhook_id] = True
            if len(self.ids) > self.limit:
                self.ids.popitem(last=False)  # forget the oldest
            return True

    def remove(self, webhook_id):
        """Forgets the id, so that its next delivery is handled again."""
        with self.lock:
            self.ids.pop(webhook_id, None)


def verify(key, webhook_id, timestamp, signatures, body):
    """Checks webhook-signature per the Standard Webhooks spec.

    The signature is the HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with
    the secret, base64, after "v1,". During a secret rotation Herald sends
    two, separated by a space; one matching is enough. Returns an error
    message, or None when the request is genuine.
    """
    if not (webhook_id and timestamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not Unix seconds"
    # Reject old (replayed) requests, and ones from the future too.
    if abs(time.time() - sent) > TOLERANCE_SECONDS:
        return "webhook-timestamp is too far from now"
    # The raw bytes as received, never re-encoded JSON.
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    want = hmac.new(key, signed, hashlib.sha256).digest()
    for sig in signatures.split():
        version, _, b64 = sig.partition(",")
        try:
            got = base64.b64decode(b64, validate=True)
        except binascii.Error:
            continue
        if version == "v1" and hmac.compare_digest(got, want):
            return None
    return "no valid signature"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Herald reuses connections
    key = b""  # the decoded signing secret, set in main
    token = ""  # "" means: do not check Authorization
    seen = SeenIDs(10000)

    # Herald sends GET by default (as Defguard does), with a JSON body.
    def do_GET(self):
        self.handle_webhook()

    def do_POST(self):
        self.handle_webhook()

    def not_allowed(self):
        self.close_connection = True  # the body, if any, is left unread
        self.send_response(405)
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = not_allowed

    def answer(self, status, text):
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reject(self, why):
        # Herald retries a 401, so a misconfigured secret shows up as
        # retrying deliveries in Herald's delivery log.
        log("rejected: " + why)
        self.answer(401, why)

    def handle_webhook(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return self.answer(400, "bad Content-Length")
        if length > MAX_BODY:
            self.close_connection = True  # the body is left unread
            return self.answer(413, "body too large")
        body = self.rfile.read(length)
        if self.token:
            want = ("Bearer " + self.token).encode()
            got = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(got, want):
                return self.reject("wrong or missing bearer token")
        webhook_id = self.headers.get("webhook-id", "")
        error = verify(self.key, webhook_id, self.headers.get("webhook-timestamp", ""),
                       self.headers.get("webhook-signature", ""), body)
        if error:
            return self.reject(error)
        # At least once: a retry or a redelivery carries the same webhook-id.
        # Answer 2xx so Herald stops, but do the work only once.
        if not self.seen.add(webhook_id):
            return self.answer(200, "duplicate %s ignored" % webhook_id)
        event = self.headers.get("X-Defguard-Event", "")
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            self.seen.remove(webhook_id)  # not handled: let a retry try again
            return self.answer(400, "body is not a JSON object")
        # A webhook with format "envelope" wraps the body: {"id", "type",
        # "occurred_at", "actor", "data", "previous", "changed"}, data being
        # the body a "defguard" webhook gets. Take data, and see who did it.
        if isinstance(data.get("data"), dict):
            actor = data.get("actor") or {}
            log("%s by %s %s, changed %s" % (event, actor.get("type"),
                actor.get("username") or actor.get("station") or "", data.get("changed")))
            data = data["data"]
        # Do the real work here (send a welcome mail, close an account...).
        # If it fails, call self.seen.remove(webhook_id) and answer 5xx:
        # Herald will retry.
        if event in ("user_created", "user_modified", "user_deleted", "user_keys"):
            emit(event, data.get("username"))
        elif event in ("group_created", "group_modified", "group_deleted"):
            emit(event, data.get("name"))
        elif event == "webhook_test":
            emit(event, data.get("webhook_id"))
        else:
            # A newer Herald may send events this code does not know yet:
            # accept them, or Herald would retry them for a day.
            log("ignoring unknown event %r" % event)
        self.answer(200, "ok")

    def log_message(self, format, *args):
        log("%s %s" % (self.address_string(), format % args))


def main():
    host, _, port = os.environ.get("RECEIVER_ADDR", "127.0.0.1:9000").rpartition(":")
    secret = os.environ.get("HERALD_SIGNING_SECRET", "")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        key = b""
    if not secret.startswith("whsec_") or not key:
        sys.exit("set HERALD_SIGNING_SECRET to the webhook's signing_secret (whsec_...)")
    Handler.key = key
    Handler.token = os.environ.get("HERALD_TOKEN", "")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    log("listening on http://%s:%s" % (host, port))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
