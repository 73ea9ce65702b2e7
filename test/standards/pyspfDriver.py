"""Runs pyspf (Debian python3-spf) on SPF test cases against one DNS server, for the RFC 7208
conformance test: reads {"server", "port", "timeout", "tests": [{"id", "host", "mailfrom", "helo",
"strict"}]} as JSON on stdin and writes {"id": {"result", "explanation"}} as JSON on stdout."""
import json
import sys

import dns.resolver
import spf

request = json.load(sys.stdin)
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [request["server"]]
resolver.port = int(request["port"])
resolver.timeout = float(request["timeout"])
resolver.lifetime = float(request["timeout"])
dns.resolver.default_resolver = resolver

out = {}
for t in request["tests"]:
    q = spf.query(i=t["host"], s=t["mailfrom"], h=t["helo"], strict=t.get("strict", True),
                  timeout=float(request["timeout"]))
    q.set_default_explanation("DEFAULT")
    res, code, exp = q.check()
    res = {"unknown": "permerror", "error": "temperror"}.get(res, res)
    out[t["id"]] = {"result": res, "explanation": exp}
json.dump(out, sys.stdout)
