#!/usr/bin/env python3
"""Call a Switchyard method or publish an event, from docs/protocol.md with only pika.

  caller.py call SERVICE METHOD [JSON] [--raw-body BYTES] [--timeout-ms N]
  caller.py publish TOPIC [JSON] [--source NAME]

With SWITCHYARD_AUTH_URL set (auth on, docs/protocol.md §7), the caller first gets its
own access token from the auth service's token endpoint with SWITCHYARD_CLIENT_ID and
SWITCHYARD_CLIENT_SECRET (client credentials, RFC 6749 §4.4) and sends it in header
x-switchyard-token; a refused grant prints its RFC 6749 error and exits 2.

`call` prints the reply as JSON and exits 0, or prints the error body (protocol §6) and
exits 1. Failures decided on this side use the same body: UNAVAILABLE when no server
runs the service (the request came back as basic.return), DEADLINE_EXCEEDED when no
reply came in time. `publish` prints {"messageId": ...} once RabbitMQ confirms it, or
an UNROUTABLE error body (exit 1) when no group subscribes to the topic.
Exit code 2 means the command line or the connection was wrong.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

DEFAULT_AMQP = 'amqp://guest:guest@127.0.0.1:5672/%2F'
DEFAULT_NAMESPACE = 'switchyard'
JSON_TYPE = 'application/json'
DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to'


def error_body(code, message, retryable=False):
    return {'code': code, 'message': message, 'retryable': retryable}


def fetch_token(auth_url, client_id, client_secret):
    """Client credentials grant (protocol §7): returns the access token, or raises SystemExit(2)."""
    basic = base64.b64encode(f'{urllib.parse.quote(client_id, safe="")}:{urllib.parse.quote(client_secret, safe="")}'
                             .encode()).decode()
    req = urllib.request.Request(
        f'{auth_url.rstrip("/")}/oauth/token',
        data=urllib.parse.urlencode({'grant_type': 'client_credentials'}).encode(),
        headers={'Authorization': f'Basic {basic}', 'Content-Type': 'application/x-www-form-urlencoded'},
        method='POST')
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())['access_token']
    except urllib.error.HTTPError as err:
        body = err.read().decode('utf-8', 'replace')
        print(f'the auth service refused a token for "{client_id}": {err.code} {body}', file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as err:
        print(f'cannot get a token from {auth_url}: {err!r}', file=sys.stderr)
    raise SystemExit(2)


def identity_headers():
    """x-switchyard-token when auth is on (SWITCHYARD_AUTH_URL set), else nothing."""
    auth_url = os.environ.get('SWITCHYARD_AUTH_URL', '').strip()
    if not auth_url or os.environ.get('SWITCHYARD_AUTH', '').strip() == 'off':
        return {}
    client_id = os.environ.get('SWITCHYARD_CLIENT_ID', '').strip()
    client_secret = os.environ.get('SWITCHYARD_CLIENT_SECRET', '').strip()
    if not client_id or not client_secret:
        print('SWITCHYARD_AUTH_URL is set: SWITCHYARD_CLIENT_ID and SWITCHYARD_CLIENT_SECRET are required',
              file=sys.stderr)
        raise SystemExit(2)
    return {'x-switchyard-token': fetch_token(auth_url, client_id, client_secret)}


def parse_headers(pairs):
    headers = {}
    for pair in pairs or []:
        name, sep, value = pair.partition('=')
        if not sep:
            raise SystemExit(f'--header expects NAME=VALUE, got "{pair}"')
        headers[name] = value
    return headers


def call(conn, args):
    ch = conn.channel()
    ch.exchange_declare(f'{args.namespace}.rpc', 'direct', durable=True)
    correlation_id = str(uuid.uuid4())
    outcome = {}

    def on_reply(_ch, _method, props, body):
        if props.correlation_id != correlation_id:
            return  # a late reply to an earlier call: nobody waits for it
        outcome['status'] = (props.headers or {}).get('x-status')
        outcome['props'] = props
        outcome['body'] = body

    def on_return(_ch, _method, props, _body):
        if props.correlation_id == correlation_id:
            outcome['returned'] = True

    # Direct reply-to: consume (no-ack) before publishing, on the publishing channel.
    ch.basic_consume(DIRECT_REPLY_TO, on_reply, auto_ack=True)
    ch.add_on_return_callback(on_return)

    if args.raw_body is not None:
        body = args.raw_body.encode('utf-8')
    else:
        body = json.dumps(json.loads(args.json)).encode('utf-8')
    deadline_ms = int(time.time() * 1000) + args.timeout_ms
    headers = {'x-method': args.method, 'x-deadline': str(deadline_ms), **args.identity,
               **parse_headers(args.header)}
    if args.source:
        headers['x-source'] = args.source
    ch.basic_publish(f'{args.namespace}.rpc', args.service, body, pika.BasicProperties(
        reply_to=DIRECT_REPLY_TO,
        correlation_id=correlation_id,
        message_id=str(uuid.uuid4()),
        content_type=args.content_type,
        delivery_mode=1,  # transient: worthless after its deadline
        expiration=str(args.timeout_ms),
        timestamp=int(time.time()),
        headers=headers,
    ), mandatory=True)

    while 'status' not in outcome and 'returned' not in outcome:
        left = deadline_ms / 1000 - time.time()
        if left <= 0:
            return print_error(error_body('DEADLINE_EXCEEDED', f'no reply from {args.service}.{args.method} '
                                                               f'within {args.timeout_ms} ms'))
        conn.process_data_events(time_limit=min(left, 0.5))

    if outcome.get('returned'):
        return print_error(error_body('UNAVAILABLE', f'no server for service "{args.service}"', True))
    status = outcome['status']
    if isinstance(status, bytes):
        status = status.decode()
    if status == 'ok':
        print(json.dumps(decode_reply(outcome['props'], outcome['body'])))
        return 0
    try:
        body = json.loads(outcome['body'])
    except ValueError:
        body = error_body('INTERNAL', 'malformed error reply')
    return print_error(body)


def decode_reply(props, body):
    content_type = (props.content_type or JSON_TYPE).split(';')[0].strip()
    if content_type != JSON_TYPE:
        raise SystemExit(f'reply has content type {content_type}, which this caller cannot decode')
    return json.loads(body)


def publish(conn, args):
    ch = conn.channel()
    ch.exchange_declare(f'{args.namespace}.events', 'topic', durable=True)
    ch.confirm_delivery()
    message_id = args.message_id or str(uuid.uuid4())
    headers = {**args.identity, **parse_headers(args.header)}
    if args.source:
        headers['x-source'] = args.source
    body = args.raw_body.encode('utf-8') if args.raw_body is not None else json.dumps(json.loads(args.json)).encode()
    try:
        # In confirm mode basic_publish returns only once RabbitMQ acked the message.
        ch.basic_publish(f'{args.namespace}.events', args.topic, body, pika.BasicProperties(
            content_type=args.content_type,
            message_id=message_id,
            timestamp=int(time.time()),
            delivery_mode=2,
            headers=headers,
        ), mandatory=True)
    except UnroutableError:
        return print_error(error_body('UNROUTABLE', f'no subscriber group for topic "{args.topic}"', True))
    except NackError:
        return print_error(error_body('UNAVAILABLE', 'RabbitMQ refused the event', True))
    print(json.dumps({'messageId': message_id}))
    return 0


def print_error(body):
    print(json.dumps(body))
    return 1


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--amqp', default=os.environ.get('SWITCHYARD_AMQP', DEFAULT_AMQP),
                        help='AMQP URL (env SWITCHYARD_AMQP)')
    common.add_argument('--namespace', default=os.environ.get('SWITCHYARD_NAMESPACE', DEFAULT_NAMESPACE),
                        help='Switchyard namespace (env SWITCHYARD_NAMESPACE; default switchyard)')
    common.add_argument('--raw-body', metavar='BYTES', help='send these bytes as the body instead of JSON')
    common.add_argument('--content-type', default=JSON_TYPE)
    common.add_argument('--header', action='append', metavar='NAME=VALUE', help='extra header (repeatable)')
    common.add_argument('--source', help='sender name, sent as header x-source')

    p = argparse.ArgumentParser(description='Call Switchyard methods and publish events with pika.')
    sub = p.add_subparsers(dest='command', required=True)
    c = sub.add_parser('call', parents=[common], help='unary RPC call')
    c.add_argument('service')
    c.add_argument('method')
    c.add_argument('json', nargs='?', default='{}')
    c.add_argument('--timeout-ms', type=int, default=30000)
    e = sub.add_parser('publish', parents=[common], help='publish an event (confirm + mandatory)')
    e.add_argument('topic')
    e.add_argument('json', nargs='?', default='{}')
    e.add_argument('--message-id')
    args = p.parse_args(argv)
    if args.command == 'call' and args.timeout_ms < 1:
        p.error('--timeout-ms must be >= 1')
    return args


def main(argv):
    args = parse_args(argv)
    args.identity = identity_headers()
    try:
        conn = pika.BlockingConnection(pika.URLParameters(args.amqp))
    except AMQPError as err:
        print(f'cannot connect to RabbitMQ: {err!r}', file=sys.stderr)
        return 2
    try:
        return call(conn, args) if args.command == 'call' else publish(conn, args)
    finally:
        conn.close()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
