#!/usr/bin/env python3
"""s3_faults.py - an S3 stand-in for test_s3.c that fails on purpose.

Usage: s3_faults.py PORTFILE LOGFILE

Listens on 127.0.0.1 on a free port, written to PORTFILE once it listens,
and appends one JSON line per request to LOGFILE: method, raw path, raw
query, every header as received, and the body's length and SHA-256 (what
s3_sigcheck.py checks the signatures with).

The last path component of a key chooses what happens:
  flaky*    500 InternalError the first two times for that key, then stored
  down*     always 503 SlowDown
  denied*   always 403 SignatureDoesNotMatch
  stall*    the first request for that key gets no answer for 30 s
  mpfail*   multipart: part 2 always answers 500
  mpstuck*  as mpfail, and its first two aborts answer 500 too
  anything else: a small in-memory store (PUT, GET, HEAD, DELETE, copy,
  ListObjectsV2 with continuation, multipart uploads, ListMultipartUploads).
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

lock = threading.Lock()
objects = {}   # key -> bytes
uploads = {}   # upload id -> {'key': key, 'parts': {number: bytes}}
counts = {}    # (what, key) -> times seen

XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def count(what, key):
    with lock:
        counts[(what, key)] = counts.get((what, key), 0) + 1
        return counts[(what, key)]


def etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, code, body=b'', headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def xml(self, code, text):
        self.reply(code, ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode(),
                   [('Content-Type', 'application/xml')])

    def error(self, code, name, message):
        self.xml(code, '<Error><Code>%s</Code><Message>%s</Message><RequestId>4442587FB7D0A2F9'
                 '</RequestId></Error>' % (name, escape(message)))

    def do_any(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        record = {
            'method': self.command, 'path': url.path, 'query': url.query,
            'headers': [[k, v] for k, v in self.headers.items()],
            'body_len': len(body), 'body_sha256': hashlib.sha256(body).hexdigest(),
        }
        with lock, open(sys.argv[2], 'a') as log:
            log.write(json.dumps(record) + '\n')
        parts = urllib.parse.unquote(url.path).split('/', 2)
        key = parts[2] if len(parts) > 2 else ''
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        base = key.rsplit('/', 1)[-1]

        if base.startswith('flaky') and count('flaky', key) <= 2:
            return self.error(500, 'InternalError', 'We encountered an internal error. '
                              'Please try again.')
        if base.startswith('down'):
            return self.error(503, 'SlowDown', 'Please reduce your request rate.')
        if base.startswith('denied'):
            return self.error(403, 'SignatureDoesNotMatch', 'The request signature we '
                              'calculated does not match the signature you provided. '
                              'Check your key and signing method.')
        if base.startswith('stall') and count('stall', key) == 1:
            time.sleep(30)
            return None
        if not key:
            return self.bucket(query)
        return self.object(key, base, query, body)

    def bucket(self, query):
        prefix = query.get('prefix', '')
        if self.command == 'GET' and 'uploads' in query:
            with lock:
                items = sorted((u['key'], i) for i, u in uploads.items()
                               if u['key'].startswith(prefix))
            text = ''.join('<Upload><Key>%s</Key><UploadId>%s</UploadId></Upload>'
                           % (escape(k), escape(i)) for k, i in items)
            return self.xml(200, '<ListMultipartUploadsResult %s><IsTruncated>false'
                            '</IsTruncated>%s</ListMultipartUploadsResult>' % (XMLNS, text))
        if self.command == 'GET' and query.get('list-type') == '2':
            with lock:
                keys = sorted(k for k in objects if k.startswith(prefix))
                sizes = {k: len(objects[k]) for k in keys}
            after = query.get('continuation-token')
            if after:
                keys = [k for k in keys if k > after]
            page = int(query.get('max-keys', '1000'))
            more = len(keys) > page
            keys = keys[:page]
            text = ''.join('<Contents><Key>%s</Key><Size>%d</Size></Contents>'
                           % (escape(k), sizes[k]) for k in keys)
            if more:
                text += ('<IsTruncated>true</IsTruncated><NextContinuationToken>%s'
                         '</NextContinuationToken>' % escape(keys[-1]))
            else:
                text += '<IsTruncated>false</IsTruncated>'
            return self.xml(200, '<ListBucketResult %s>%s</ListBucketResult>' % (XMLNS, text))
        return self.error(405, 'MethodNotAllowed', 'not in this stand-in')

    def object(self, key, base, query, body):
        if 'uploadId' in query:
            return self.multipart(key, base, query, body)
        if self.command == 'POST' and 'uploads' in query:
            upload_id = uuid.uuid4().hex
            with lock:
                uploads[upload_id] = {'key': key, 'parts': {}}
            return self.xml(200, '<InitiateMultipartUploadResult %s><Key>%s</Key><UploadId>%s'
                            '</UploadId></InitiateMultipartUploadResult>'
                            % (XMLNS, escape(key), upload_id))
        if self.command == 'PUT':
            source = self.headers.get('x-amz-copy-source')
            if source:
                source = urllib.parse.unquote(source).split('/', 2)[2]
                with lock:
                    data = objects.get(source)
                    if data is not None:
                        objects[key] = data
                if data is None:
                    return self.error(404, 'NoSuchKey', 'The specified key does not exist.')
                return self.xml(200, '<CopyObjectResult><ETag>%s</ETag></CopyObjectResult>'
                                % escape(etag(data)))
            with lock:
                objects[key] = body
            return self.reply(200, headers=[('ETag', etag(body))])
        if self.command in ('GET', 'HEAD'):
            with lock:
                data = objects.get(key)
            if data is None:
                if self.command == 'HEAD':
                    return self.reply(404)
                return self.error(404, 'NoSuchKey', 'The specified key does not exist.')
            return self.reply(200, data, [('ETag', etag(data))])
        if self.command == 'DELETE':
            with lock:
                objects.pop(key, None)
            return self.reply(204)
        return self.error(405, 'MethodNotAllowed', 'not in this stand-in')

    def multipart(self, key, base, query, body):
        upload_id = query['uploadId']
        with lock:
            upload = uploads.get(upload_id)
        if not upload or upload['key'] != key:
            return self.error(404, 'NoSuchUpload', 'The specified upload does not exist.')
        if self.command == 'PUT':
            if base.startswith(('mpfail', 'mpstuck')) and query.get('partNumber') == '2':
                return self.error(500, 'InternalError', 'part 2 never works here')
            with lock:
                upload['parts'][int(query['partNumber'])] = body
            return self.reply(200, headers=[('ETag', etag(body))])
        if self.command == 'DELETE':
            if base.startswith('mpstuck') and count('abort', key) <= 2:
                return self.error(500, 'InternalError', 'abort refused')
            with lock:
                uploads.pop(upload_id, None)
            return self.reply(204)
        if self.command == 'POST':
            with lock:
                data = b''.join(upload['parts'][n] for n in sorted(upload['parts']))
                objects[key] = data
                uploads.pop(upload_id, None)
            return self.xml(200, '<CompleteMultipartUploadResult %s><Key>%s</Key><ETag>%s'
                            '</ETag></CompleteMultipartUploadResult>'
                            % (XMLNS, escape(key), escape(etag(data))))
        return self.error(405, 'MethodNotAllowed', 'not in this stand-in')

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any


def main():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[1] + '.tmp', 'w') as f:
        f.write(str(server.server_port))
    os.rename(sys.argv[1] + '.tmp', sys.argv[1])
    server.serve_forever()


if __name__ == '__main__':
    main()
