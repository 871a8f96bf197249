#!/usr/bin/env python3
"""Call a Switchyard method or publish an event, from docs/protocol.md with only pika.

  caller.py call SERVICE METHOD [JSON] [--raw-body BYTES] [--timeout-ms N]
  caller.py stream SERVICE METHOD [JSON] [--window N] [--take N] [--timeout-ms N]
  caller.py bidi SERVICE METHOD [JSON ...] [--kind bidi|client] [--window N] [--heartbeat-ms N]
                                          [--timeout-ms N] [--interval-ms N] [--take N]
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
`bidi` (protocol §9) opens the stream (empty body, x-stream-kind/-version/-window,
x-heartbeat), waits for the server's `open` (its address and our credit), sends the JSON
items in order as the server's credit allows (one every --interval-ms), then `end`, and
prints every server item as one JSON line (a client stream: its one reply), granting
credit after every window / 2 of them. While idle it pings every third of the heartbeat
and gives the server up (UNAVAILABLE, cancel) after a heartbeat of silence. Exit 0 after
the server's `end` or `ok`; else a last line {"error": <error body>} and exit 1. With
--take N it cancels after N server items, exiting 0.
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


def bidi(conn, args):
    """A bidi or client-streaming call (protocol §9): one thread, timers between slices."""
    ch = conn.channel()
    ch.exchange_declare(f'{args.namespace}.rpc', 'direct', durable=True)
    correlation_id = str(uuid.uuid4())
    label = f'{args.service}.{args.method}'
    items = [json.dumps(json.loads(i)).encode() for i in args.items]
    heartbeat = args.heartbeat_ms / 1000
    now = time.monotonic()
    st = {
        'server': None,  # the server's own reply address, learnt from `open`
        'credit': 0,  # items we may still send
        'next_item': 0, 'end_sent': False, 'next_send_at': now,
        'recv_seq': 0, 'granted': args.window, 'uncredited': 0, 'taken': 0,
        'outcome': None, 'last_sent': now, 'last_received': now,
    }
    credit_batch = max(1, args.window // 2)
    deadline = time.time() + args.timeout_ms / 1000 if args.timeout_ms else None
    open_by = now + min(heartbeat, args.timeout_ms / 1000 if args.timeout_ms else heartbeat)

    def to(address, headers, body=b''):
        st['last_sent'] = time.monotonic()
        ch.basic_publish('', address, body, pika.BasicProperties(
            correlation_id=correlation_id, reply_to=DIRECT_REPLY_TO,
            content_type=JSON_TYPE if body else None, headers=headers))

    def to_server(headers, body=b''):
        if st['server']:
            to(st['server'], headers, body)

    def give_up(err):
        """Fail here: tell the server (if we know it) to stop."""
        if st['outcome'] is None:
            to_server({'x-control': 'cancel'})
            st['outcome'] = err

    def send_ready():
        """Items while the server's credit lasts (and --interval-ms allows), then `end`."""
        while st['server'] and st['outcome'] is None and not st['end_sent']:
            if st['next_item'] < len(items):
                if st['credit'] <= 0 or time.monotonic() < st['next_send_at']:
                    return
                to_server({'x-status': 'item', 'x-seq': str(st['next_item'])}, items[st['next_item']])
                st['next_item'] += 1
                st['credit'] -= 1
                st['next_send_at'] = time.monotonic() + args.interval_ms / 1000
            else:
                to_server({'x-status': 'end'})  # half-close: we go on reading
                st['end_sent'] = True

    def on_message(_ch, _method, props, body):
        if props.correlation_id != correlation_id or st['outcome'] is not None:
            return
        status = header_str(props, 'x-status')
        control = header_str(props, 'x-control')
        if st['server'] is None:
            if status == 'open' and props.reply_to:
                st['server'] = props.reply_to
                st['credit'] = int(header_str(props, 'x-credit') or '0')
                st['last_received'] = time.monotonic()
                return send_ready()
            if status == 'error':
                st['outcome'] = error_from(body)
            else:
                st['outcome'] = error_body('INTERNAL', f'{label}: the server sent "{status or control}" before open')
            return
        if status == 'open':
            if props.reply_to != st['server']:
                # The request reached a second instance: refuse it, this stream cannot go on.
                to(props.reply_to, {'x-control': 'cancel'})
                give_up(error_body('UNAVAILABLE', f'the stream {label} was interrupted: its server changed', True))
            return
        st['last_received'] = time.monotonic()
        if control == 'credit':
            st['credit'] += max(0, int(header_str(props, 'x-credit') or '0'))
            return send_ready()
        if control is not None:
            return  # ping (or a later version's control message): the server is alive
        if status == 'item':
            if header_str(props, 'x-seq') != str(st['recv_seq']):
                return give_up(error_body('UNAVAILABLE', f'the stream {label} was interrupted', True))
            if st['recv_seq'] >= st['granted']:
                return give_up(error_body('RESOURCE_EXHAUSTED', f'{label}: the server sent more items than granted',
                                          True))
            st['recv_seq'] += 1
            print(json.dumps(decode_reply(props, body)), flush=True)
            st['taken'] += 1
            if args.take is not None and st['taken'] >= args.take:
                to_server({'x-control': 'cancel'})
                st['outcome'] = 'taken'
                return
            st['uncredited'] += 1
            if st['uncredited'] >= credit_batch:
                st['granted'] += st['uncredited']
                to_server({'x-control': 'credit', 'x-credit': str(st['uncredited'])})
                st['uncredited'] = 0
        elif status == 'end':
            st['outcome'] = 'end'
        elif status == 'ok':
            print(json.dumps(decode_reply(props, body)), flush=True)
            st['outcome'] = 'end'
        elif status == 'error':
            st['outcome'] = error_from(body)

    def on_return(_ch, _method, props, _body):
        if props.correlation_id == correlation_id and st['outcome'] is None and st['server'] is None:
            st['outcome'] = error_body('UNAVAILABLE', f'no server for service "{args.service}"', True)

    def tick():
        """Deadline, open timeout, lost server, pings, paced items; returns the next slice's length."""
        now = time.monotonic()
        if deadline is not None and time.time() >= deadline:
            give_up(error_body('DEADLINE_EXCEEDED', f'the stream {label} did not finish within {args.timeout_ms} ms'))
            return 0
        if st['server'] is None:
            if now >= open_by:
                st['outcome'] = error_body('UNAVAILABLE', f'no server opened the stream {label} '
                                                          f'within {args.heartbeat_ms} ms', True)
            return max(0.001, min(0.1, open_by - now))
        if now - st['last_received'] >= heartbeat:
            give_up(error_body('UNAVAILABLE', f'{label}: nothing heard from the server for '
                                              f'{args.heartbeat_ms} ms; it is gone', True))
            return 0
        send_ready()
        if time.monotonic() - st['last_sent'] >= heartbeat / 3:
            to_server({'x-control': 'ping'})
        due = [0.1, st['last_sent'] + heartbeat / 3 - now, st['last_received'] + heartbeat - now]
        if st['next_item'] < len(items) and st['credit'] > 0:
            due.append(st['next_send_at'] - now)
        if deadline is not None:
            due.append(deadline - time.time())
        return max(0.001, min(due))

    ch.basic_consume(DIRECT_REPLY_TO, on_message, auto_ack=True)
    ch.add_on_return_callback(on_return)
    headers = {'x-method': args.method, 'x-stream-kind': args.kind, 'x-stream-version': '1',
               'x-stream-window': str(args.window), 'x-heartbeat': str(args.heartbeat_ms),
               **args.identity, **parse_headers(args.header)}
    if deadline is not None:
        headers['x-deadline'] = str(int(deadline * 1000))
    if args.source:
        headers['x-source'] = args.source
    # Empty body; expiration = how long we wait for `open`, so nobody takes it later.
    ch.basic_publish(f'{args.namespace}.rpc', args.service, b'', pika.BasicProperties(
        reply_to=DIRECT_REPLY_TO, correlation_id=correlation_id, message_id=str(uuid.uuid4()),
        content_type=JSON_TYPE, delivery_mode=1, expiration=str(max(1, int((open_by - now) * 1000))),
        timestamp=int(time.time()), headers=headers), mandatory=True)
    while st['outcome'] is None:
        conn.process_data_events(time_limit=tick())
    if st['outcome'] in ('end', 'taken'):
        return 0
    print(json.dumps({'error': st['outcome']}), flush=True)
    return 1


def error_from(body):
    try:
        return json.loads(body)
    except ValueError:
        return error_body('INTERNAL', 'malformed error reply')


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

    b = sub.add_parser('bidi', parents=[common], help='bidi or client-streaming RPC call (protocol §9)')
    b.add_argument('service')
    b.add_argument('method')
    b.add_argument('items', nargs='*', metavar='JSON', help='the items to send, in order, then `end`')
    b.add_argument('--kind', choices=('bidi', 'client'), default='bidi')
    b.add_argument('--window', type=int, default=16, help='server items buffered ahead of credit')
    b.add_argument('--heartbeat-ms', type=int, default=10000, help='ping/lost-peer interval (>= 100)')
    b.add_argument('--timeout-ms', type=int, default=0, help='deadline of the whole stream (default none)')
    b.add_argument('--interval-ms', type=int, default=0, help='wait this long between items')
    b.add_argument('--take', type=int, help='stop (and cancel the stream) after this many server items')

    e = sub.add_parser('publish', parents=[common], help='publish an event (confirm + mandatory)')
    e.add_argument('topic')
    e.add_argument('json', nargs='?', default='{}')
    e.add_argument('--message-id')
    args, extra = p.parse_known_args(argv)
    if args.command == 'bidi':
        # argparse takes `*` positionals in one run: items after an option come back here.
        args.items += [a for a in extra if not a.startswith('-')]
        extra = [a for a in extra if a.startswith('-')]
    if extra:
        p.error(f'unrecognized arguments: {" ".join(extra)}')
    if args.command in ('call', 'stream') and args.timeout_ms < 1:
        p.error('--timeout-ms must be >= 1')
    if args.command == 'stream' and not 1 <= args.window <= 1024:
        p.error('--window must be 1-1024')
    if args.command == 'bidi':
        if not 1 <= args.window <= 10000:
            p.error('--window must be 1-10000')
        if args.heartbeat_ms < 100:
            p.error('--heartbeat-ms must be >= 100')
        if args.timeout_ms < 0 or args.interval_ms < 0:
            p.error('--timeout-ms and --interval-ms must be >= 0')
        for item in args.items:
            try:
                json.loads(item)
            except ValueError:
                p.error(f'item is not JSON: {item}')
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
        commands = {'call': call, 'stream': stream, 'bidi': bidi, 'publish': publish}
        return commands[args.command](conn, args)
    finally:
        conn.close()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
