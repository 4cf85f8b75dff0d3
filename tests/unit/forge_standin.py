#!/usr/bin/env python3
"""forge_standin.py - a forge (GitHub, GitLab) stand-in for test_status.c.

Usage: forge_standin.py PORTFILE LOGFILE CONTROLFILE [PORT]

Listens on 127.0.0.1 on PORT (default: a free one), written to PORTFILE
("PORT\\n") once it listens, and appends one JSON line per request to
LOGFILE: method, raw path, raw query, every header as received ([name,
value] pairs in order) and the body as text.

Every request first reads CONTROLFILE when it exists, and removes it: a
JSON object {"fail": N, "status": 502, "body": "..."} makes the next N
requests (this one included) answer status with that body; "{auth}" in the
body becomes the request's Authorization or PRIVATE-TOKEN header, as a
forge that echoes it would. Any other request answers 201 with a status
in JSON, as GitHub does.
"""
import http.server
import json
import os
import sys
import threading

lock = threading.Lock()
failing = {'fail': 0, 'status': 502, 'body': ''}


def control(path):
    try:
        with open(path) as f:
            c = json.load(f)
        os.unlink(path)
    except FileNotFoundError:
        return
    failing.update(c)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_any(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        path, _, query = self.path.partition('?')
        record = {
            'method': self.command, 'path': path, 'query': query,
            'headers': [[k, v] for k, v in self.headers.items()],
            'body': body.decode('utf-8', 'replace'),
        }
        with lock:
            with open(sys.argv[2], 'a') as f:
                f.write(json.dumps(record) + '\n')
            control(sys.argv[3])
            if failing['fail'] > 0:
                failing['fail'] -= 1
                auth = self.headers.get('Authorization') or \
                    self.headers.get('PRIVATE-TOKEN') or ''
                code = int(failing['status'])
                answer = failing['body'].replace('{auth}', auth).encode()
            else:
                code = 201
                answer = b'{"id": 1, "state": "success", "context": "mayfly"}'
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_any


def main():
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
    tmp = sys.argv[1] + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % server.server_port)
    os.rename(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == '__main__':
    main()
