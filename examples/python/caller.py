#!/usr/bin/env python3
"""Call a Switchyard method or publish an event, from docs/protocol.md with only pika.

  caller.py call SERVICE METHOD [JSON] [--raw-body BYTES] [--timeout-ms N]
  caller.py stream SERVICE METHOD [JSON] [--window N] [--take N] [--timeout-ms N]
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

`stream` (protocol §5) prints each item as one JSON line as it arrives, granting the
server credit after every window / 2 items; it exits 0 after `end`, or prints a last line
{"error": <error body>} and exits 1 (the server's error, UNAVAILABLE, DEADLINE_EXCEEDED
for the whole stream, or UNAVAILABLE when the items' x-seq no longer add up). With
--take N it stops after N items and sends `cancel`, exiting 0.
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


def stream(conn, args):
    ch = conn.channel()
    ch.exchange_declare(f'{args.namespace}.rpc', 'direct', durable=True)
    correlation_id = str(uuid.uuid4())
    state = {'next_seq': 0, 'uncredited': 0, 'server': None, 'outcome': None, 'taken': 0}
    credit_batch = max(1, args.window // 2)

    def control(kind, extra=None):
        # To the server's own reply address, learnt from its first stream message.
        if state['server']:
            ch.basic_publish('', state['server'], b'', pika.BasicProperties(
                correlation_id=correlation_id, headers={'x-control': kind, **(extra or {})}))

    def on_message(_ch, _method, props, body):
        if props.correlation_id != correlation_id or state['outcome'] is not None:
            return
        state['server'] = state['server'] or props.reply_to
        status = header_str(props, 'x-status')
        if status == 'item':
            if header_str(props, 'x-seq') != str(state['next_seq']):
                # Another instance restarted the stream: the items no longer add up.
                control('cancel')
                state['outcome'] = error_body('UNAVAILABLE', f'stream {args.service}.{args.method} was interrupted',
                                              True)
                return
            state['next_seq'] += 1
            print(json.dumps(decode_reply(props, body)), flush=True)
            state['taken'] += 1
            if args.take is not None and state['taken'] >= args.take:
                control('cancel')
                state['outcome'] = 'taken'
                return
            state['uncredited'] += 1
            if state['uncredited'] >= credit_batch:
                control('credit', {'x-credit': str(state['uncredited'])})
                state['uncredited'] = 0
        elif status == 'end':
            state['outcome'] = 'end'
        elif status == 'ok':
            # A unary reply where a stream was expected: a stream of one.
            print(json.dumps(decode_reply(props, body)), flush=True)
            state['outcome'] = 'end'
        else:
            try:
                state['outcome'] = json.loads(body)
            except ValueError:
                state['outcome'] = error_body('INTERNAL', 'malformed error reply')

    def on_return(_ch, _method, props, _body):
        if props.correlation_id == correlation_id and state['outcome'] is None:
            state['outcome'] = error_body('UNAVAILABLE', f'no server for service "{args.service}"', True)

    ch.basic_consume(DIRECT_REPLY_TO, on_message, auto_ack=True)
    ch.add_on_return_callback(on_return)
    deadline_ms = int(time.time() * 1000) + args.timeout_ms
    headers = {'x-method': args.method, 'x-deadline': str(deadline_ms), 'x-stream-window': str(args.window),
               **args.identity, **parse_headers(args.header)}
    if args.source:
        headers['x-source'] = args.source
    ch.basic_publish(f'{args.namespace}.rpc', args.service, json.dumps(json.loads(args.json)).encode(),
                     pika.BasicProperties(
                         reply_to=DIRECT_REPLY_TO, correlation_id=correlation_id, message_id=str(uuid.uuid4()),
                         content_type=JSON_TYPE, delivery_mode=1, expiration=str(args.timeout_ms),
                         timestamp=int(time.time()), headers=headers), mandatory=True)
    while state['outcome'] is None:
        left = deadline_ms / 1000 - time.time()
        if left <= 0:
            # The deadline bounds the whole stream.
            control('cancel')
            state['outcome'] = error_body('DEADLINE_EXCEEDED', f'stream {args.service}.{args.method} did not '
                                                               f'finish within {args.timeout_ms} ms')
            break
        conn.process_data_events(time_limit=min(left, 0.5))
    if state['outcome'] in ('end', 'taken'):
        return 0
    print(json.dumps({'error': state['outcome']}), flush=True)
    return 1


def header_str(props, name):
    value = (props.headers or {}).get(name)
    return value.decode() if isinstance(value, bytes) else value


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
    s = sub.add_parser('stream', parents=[common], help='server-streaming RPC call (items as JSON lines)')
    s.add_argument('service')
    s.add_argument('method')
    s.add_argument('json', nargs='?', default='{}')
    s.add_argument('--timeout-ms', type=int, default=30000, help='deadline of the whole stream')
    s.add_argument('--window', type=int, default=16, help='items the server may send ahead of credit')
    s.add_argument('--take', type=int, help='stop (and cancel the stream) after this many items')

    e = sub.add_parser('publish', parents=[common], help='publish an event (confirm + mandatory)')
    e.add_argument('topic')
    e.add_argument('json', nargs='?', default='{}')
    e.add_argument('--message-id')
    args = p.parse_args(argv)
    if args.command in ('call', 'stream') and args.timeout_ms < 1:
        p.error('--timeout-ms must be >= 1')
    if args.command == 'stream' and not 1 <= args.window <= 1024:
        p.error('--window must be 1-1024')
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
        commands = {'call': call, 'stream': stream, 'publish': publish}
        return commands[args.command](conn, args)
    finally:
        conn.close()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
