#!/usr/bin/env python3
"""nova_stub.py PORT COUNTFILE — the part of the Nova API Ceilometer's compute
agent calls with libvirt_metadata discovery: the flavor lookup by name
(novaclient's flavors.find: GET .../flavors/detail), plus the version
documents keystoneauth's endpoint discovery asks for. Listens on 127.0.0.1
only. Every request is counted, by method and path (query dropped), in
COUNTFILE as "COUNT METHOD PATH" lines, rewritten after each request: that
count is the control-plane load of the peer (hvmeter makes none).
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
COUNTFILE = sys.argv[2]
counts = {}
lock = threading.Lock()
BASE = "http://127.0.0.1:%d" % PORT
VERSION = {"id": "v2.1", "status": "CURRENT", "version": "2.95",
           "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
           "links": [{"rel": "self", "href": BASE + "/v2.1/"}]}
FLAVORS = [{"id": str(i + 1), "name": n, "ram": r, "vcpus": v, "disk": d,
            "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "rxtx_factor": 1.0,
            "os-flavor-access:is_public": True,
            "links": [{"rel": "self", "href": BASE + "/v2.1/flavors/%d" % (i + 1)}]}
           for i, (n, r, v, d) in enumerate([("m1.tiny", 256, 1, 1), ("m1.small", 2048, 1, 20),
                                             ("m1.medium", 4096, 2, 40)])]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the count file is the record
        pass

    def _count(self):
        key = "%s %s" % (self.command, self.path.split("?")[0])
        with lock:
            counts[key] = counts.get(key, 0) + 1
            with open(COUNTFILE + ".tmp", "w") as f:
                for k, v in sorted(counts.items()):
                    f.write("%d %s\n" % (v, k))
            os.replace(COUNTFILE + ".tmp", COUNTFILE)

    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("OpenStack-API-Version", "compute 2.1")
        self.send_header("X-OpenStack-Nova-API-Version", "2.1")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._count()
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/flavors/detail") or path.endswith("/flavors"):
            self._send(200, {"flavors": FLAVORS})
        elif "/flavors/" in path:
            fid = path.rsplit("/", 1)[1]
            match = [f for f in FLAVORS if f["id"] == fid]
            self._send(200 if match else 404, {"flavor": match[0]} if match else
                       {"itemNotFound": {"code": 404, "message": "no flavor"}})
        elif path in ("", "/v2.1", "/v2"):
            self._send(200, {"version": VERSION} if path else {"versions": [VERSION]})
        else:
            self._send(404, {"itemNotFound": {"code": 404, "message": "not in the stub"}})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
