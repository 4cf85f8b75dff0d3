#!/usr/bin/python3
"""s3_sigcheck.py - checks the SigV4 signatures Mayfly's S3 client (libcurl)
made, with an independent implementation: botocore's S3SigV4Auth.

Usage: s3_sigcheck.py LOG ACCESS_KEY SECRET_KEY REGION

LOG holds the requests s3_faults.py received (one JSON object a line). For
each one, botocore signs the same request again, from what was received:
method, path, query parameters (decoded, then encoded and sorted by
botocore itself), the headers the request says it signed, X-Amz-Date, and
as payload hash the SHA-256 of the body that actually arrived. Its
Authorization header must equal the one received, byte for byte. Also
checked: every x-amz-* header, host and content-type sent is signed,
x-amz-content-sha256 is the body's real SHA-256, and the path is in
SigV4's canonical form for S3 (percent-encoded once, '/' kept).

Exit status: 0 all match (prints how many), 1 a mismatch (printed),
77 botocore is missing (Debian: apt-get install python3-botocore).
"""
import json
import sys
from urllib.parse import parse_qsl, quote, unquote

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print('botocore is missing (apt-get install python3-botocore)')
    sys.exit(77)


class ReceivedPayloadAuth(S3SigV4Auth):
    """S3SigV4Auth with the payload hash of the body the server received."""

    def __init__(self, credentials, region, payload_hash):
        super().__init__(credentials, 's3', region)
        self.payload_hash = payload_hash

    def payload(self, request):
        return self.payload_hash


def check(record, credentials, region):
    headers = {k.lower(): v for k, v in record['headers']}
    sent = headers.get('authorization', '')
    if not sent.startswith('AWS4-HMAC-SHA256 ') or 'SignedHeaders=' not in sent:
        return 'no SigV4 Authorization header: %r' % sent
    signed = sent.split('SignedHeaders=', 1)[1].split(',', 1)[0].split(';')
    for name in headers:
        if (name.startswith('x-amz-') or name in ('host', 'content-type')) and name not in signed:
            return 'header %s sent but not signed (%s)' % (name, ';'.join(signed))
    if headers.get('x-amz-content-sha256') != record['body_sha256']:
        return 'x-amz-content-sha256 %s, but the body received hashes to %s' % (
            headers.get('x-amz-content-sha256'), record['body_sha256'])
    canonical_path = quote(unquote(record['path'], errors='strict'), safe='/~')
    if canonical_path != record['path']:
        return 'path %s is not in canonical form (%s)' % (record['path'], canonical_path)

    request = AWSRequest(
        method=record['method'],
        url='http://%s%s' % (headers['host'], record['path']),
        headers={k: v for k, v in record['headers']
                 if k.lower() in signed and k.lower() != 'x-amz-date'},
        params=parse_qsl(record['query'], keep_blank_values=True, strict_parsing=False))
    request.context['timestamp'] = headers['x-amz-date']
    auth = ReceivedPayloadAuth(credentials, region, record['body_sha256'])
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    expected = request.headers['Authorization']
    if expected != sent:
        return 'signature differs:\n  sent     %s\n  botocore %s\n  canonical request:\n%s' % (
            sent, expected, canonical)
    return None


def main():
    log, access_key, secret_key, region = sys.argv[1:5]
    credentials = Credentials(access_key, secret_key)
    n = 0
    with open(log) as f:
        for line in f:
            record = json.loads(line)
            problem = check(record, credentials, region)
            what = '%s %s?%s' % (record['method'], record['path'], record['query'])
            if problem:
                print('%s: %s' % (what, problem))
                sys.exit(1)
            n += 1
            print('ok %s' % what)
    print('%d signatures match botocore' % n)


if __name__ == '__main__':
    main()
