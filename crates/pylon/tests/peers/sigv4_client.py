"""A Lattice client as the AWS SDK for Python makes one: the request signed by botocore's own
signers (SigV4, or SigV4A through the AWS CRT) for service vpc-lattice-svcs, with
x-amz-content-sha256: UNSIGNED-PAYLOAD, then sent to an address of the test's choosing.

usage: sigv4_client.py ADDR URL KEY SECRET [--v4a] [--region R] [--method M]
                       [--header NAME=VALUE]... [--after-signing NAME=VALUE]...
                       [--signed-ago SECONDS]
Prints {"status": ..., "body": ...} as JSON.
"""

import argparse
import datetime
import http.client
import json
import urllib.parse

import botocore.auth
import botocore.crt.auth  # after botocore.auth, which it imports from
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("secret")
    parser.add_argument("--v4a", action="store_true")
    parser.add_argument("--region", default="us-west-2")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--after-signing", action="append", default=[])
    parser.add_argument("--signed-ago", type=int, default=0)
    args = parser.parse_args()

    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    for h in args.header:
        name, value = h.split("=", 1)
        headers[name] = value
    request = AWSRequest(method=args.method, url=args.url, headers=headers)
    credentials = Credentials(args.key, args.secret)
    if args.signed_ago:
        then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=args.signed_ago)

        def clock(remove_tzinfo=True):
            return then.replace(tzinfo=None) if remove_tzinfo else then

        botocore.auth.get_current_datetime = clock
        botocore.crt.auth.get_current_datetime = clock
    if args.v4a:

        signer = botocore.crt.auth.CrtSigV4AsymAuth(credentials, "vpc-lattice-svcs", "*")
    else:
        signer = botocore.auth.SigV4Auth(credentials, "vpc-lattice-svcs", args.region)
    signer.add_auth(request)
    prepared = request.prepare()
    sent = dict(prepared.headers.items())
    for h in args.after_signing:
        name, value = h.split("=", 1)
        sent[name] = value

    url = urllib.parse.urlsplit(args.url)
    # The signers sign the URL's host without adding the header; send the host they signed.
    if not any(k.lower() == "host" for k in sent):
        sent["Host"] = url.netloc
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    host, port = args.addr.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(args.method, path, headers=sent)
    response = connection.getresponse()
    print(json.dumps({"status": response.status, "body": response.read().decode()}))


if __name__ == "__main__":
    main()
