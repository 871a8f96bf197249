#!/usr/bin/env python3
"""The `{{service}}` Switchyard service, in Python with only pika.

RPC follows docs/protocol.md §4 and §6: requests arrive on the auto-delete queue
`<ns>.rpc.{{service}}`, replies go to `reply_to` with `x-status` ok or error. With an etcd
URL the instance registers through etcd's JSON gateway (docs/registry.md §6): a lease,
the instance record put with it, keepalives every TTL/3, and a revoke on shutdown.

Methods (JSON only):
  greet  {name: string, 1-100 characters}  ->  {message: string}

Prints READY once serving; exits 0 on SIGTERM/SIGINT.
"""

import argparse
import base64
import datetime
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid

import pika

SERVICE = '{{service}}'
VERSION = '0.1.0'
JSON_TYPE = 'application/json'
DEFAULT_AMQP = 'amqp://guest:guest@127.0.0.1:5672/%2F'
DEFAULT_NAMESPACE = 'switchyard'
LEASE_TTL = 10

# Codes a caller may retry (docs/errors.md); every other code is final.
RETRYABLE = {'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'CIRCUIT_OPEN', 'UNROUTABLE',
             'BULKHEAD_FULL', 'RATE_LIMITED', 'BUFFER_FULL'}

# What the registry says about each method (schema ids = the files under schemas/).
METHOD_INFO = {
    'greet': {
        'request': '{{schemaBase}}.greet.request.json',
        'response': '{{schemaBase}}.greet.response.json',
        'idempotent': True,
    },
}


class ServiceError(Exception):
    """A failure with a stable code, sent to the caller as a protocol §6 error body."""

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self):
        out = {'code': self.code, 'message': self.message, 'retryable': self.code in RETRYABLE}
        if self.details is not None:
            out['details'] = self.details
        return out


def invalid(what, violations):
    summary = '; '.join(f"{v['pointer'] or '/'}: {v['message']}" for v in violations)
    return ServiceError('INVALID_ARGUMENT', f'{what} is invalid: {summary}', {'violations': violations})


# ---------------------------------------------------------------------------------
# Methods


def greet(payload):
    """The rules of schemas/{{service}}/{{service}}.greet.request.json, checked by hand."""
    if not isinstance(payload, dict):
        raise invalid('request', [{'pointer': '', 'message': 'must be an object'}])
    violations = []
    name = payload.get('name')
    if 'name' not in payload:
        violations.append({'pointer': '/name', 'message': 'is required'})
    elif not isinstance(name, str):
        violations.append({'pointer': '/name', 'message': 'must be a string'})
    elif not 1 <= len(name) <= 100:
        violations.append({'pointer': '/name', 'message': 'must be 1 to 100 characters long'})
    for key in payload:
        if key != 'name':
            violations.append({'pointer': '/' + key.replace('~', '~0').replace('/', '~1'),
                               'message': 'is not an allowed property'})
    if violations:
        raise invalid('request', violations)
    return {'message': f'Hello, {name}!'}


METHODS = {'greet': greet}


# ---------------------------------------------------------------------------------
# RPC server (protocol §4)


def header(props, name):
    value = (props.headers or {}).get(name)
    if value is None:
        return None
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def decode_json(props, body):
    content_type = (props.content_type or JSON_TYPE).split(';')[0].strip().lower()
    if content_type != JSON_TYPE:
        raise ServiceError('INVALID_ARGUMENT', f'unsupported content type "{props.content_type}"')
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as err:
        raise ServiceError('INVALID_ARGUMENT', f'payload is not valid {JSON_TYPE}: {err}') from None


class RpcServer:
    def __init__(self, channel, namespace):
        self.ch = channel
        self.ns = namespace
        self.queue = f'{namespace}.rpc.{SERVICE}'
        self.tag = None

    def start(self, prefetch):
        self.ch.exchange_declare(f'{self.ns}.rpc', 'direct', durable=True)
        # Auto-delete, no arguments: must match every other server's declaration.
        self.ch.queue_declare(self.queue, durable=True, auto_delete=True)
        self.ch.queue_bind(self.queue, f'{self.ns}.rpc', routing_key=SERVICE)
        self.ch.basic_qos(prefetch_count=prefetch)
        self.tag = self.ch.basic_consume(self.queue, self.on_request, auto_ack=False)

    def on_request(self, ch, method, props, body):
        if not props.reply_to or not props.correlation_id:
            ch.basic_ack(method.delivery_tag)  # nobody to answer
            return
        deadline = header(props, 'x-deadline')
        if deadline is not None and deadline.isdigit() and int(deadline) <= time.time() * 1000:
            ch.basic_ack(method.delivery_tag)  # the caller has given up
            return
        try:
            name = header(props, 'x-method')
            handler = METHODS.get(name or '')
            if handler is None:
                raise ServiceError('UNIMPLEMENTED', f'{SERVICE} has no method "{name}"')
            if header(props, 'x-stream-window') is not None:
                raise ServiceError('FAILED_PRECONDITION', f'{SERVICE}.{name} is unary, not streaming')
            self.reply(props, 'ok', handler(decode_json(props, body)))
        except ServiceError as err:
            self.reply(props, 'error', err.body())
        except Exception as err:  # noqa: BLE001 - a bug must still answer the caller
            print(f'{SERVICE}: handler crashed: {err!r}', file=sys.stderr)
            self.reply(props, 'error', {'code': 'INTERNAL', 'message': 'internal error', 'retryable': False})
        # Ack only after replying: a server dying mid-call lets another instance take it.
        ch.basic_ack(method.delivery_tag)

    def reply(self, props, status, value):
        headers = {'x-status': status}
        traceparent = header(props, 'traceparent')
        if traceparent:
            headers['traceparent'] = traceparent
        self.ch.basic_publish('', props.reply_to, json.dumps(value).encode(), pika.BasicProperties(
            correlation_id=props.correlation_id, content_type=JSON_TYPE, headers=headers))


# ---------------------------------------------------------------------------------
# Registration in etcd (registry §6, JSON gateway)


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Registration:
    def __init__(self, endpoint, namespace, instance_id, ttl=LEASE_TTL):
        self.endpoint = endpoint.rstrip('/')
        self.key = f'/{namespace}/services/{SERVICE}/{instance_id}'
        self.record = {
            'id': instance_id,
            'service': SERVICE,
            'version': VERSION,
            'methods': METHOD_INFO,
            'events': {'emits': [], 'subscribes': []},
            'metadata': {'lang': 'python'},
            'startedAt': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        self.ttl = ttl
        self.lease = None
        self.next_keepalive = 0.0

    def post(self, path, body):
        req = urllib.request.Request(f'{self.endpoint}{path}', data=json.dumps(body).encode(),
                                     headers={'content-type': 'application/json'})
        with urllib.request.urlopen(req, timeout=5) as res:
            return json.loads(res.read() or b'{}')

    def register(self):
        self.lease = self.post('/v3/lease/grant', {'TTL': self.ttl})['ID']
        self.post('/v3/kv/put', {'key': b64(self.key), 'value': b64(json.dumps(self.record)), 'lease': self.lease})
        self.next_keepalive = time.monotonic() + self.ttl / 3

    def tick(self):
        """Keep the lease alive every TTL/3; put the record again if the lease is gone."""
        if time.monotonic() < self.next_keepalive:
            return
        try:
            result = self.post('/v3/lease/keepalive', {'ID': self.lease}).get('result', {})
            if int(result.get('TTL', '0')) <= 0:
                print(f'{SERVICE}: lease lost; registering again', file=sys.stderr)
                self.register()
            else:
                self.next_keepalive = time.monotonic() + self.ttl / 3
        except (OSError, ValueError) as err:
            # etcd unreachable: try again soon; the record expires if this lasts longer than the TTL.
            print(f'{SERVICE}: etcd keepalive failed: {err}', file=sys.stderr)
            self.next_keepalive = time.monotonic() + 1

    def revoke(self):
        try:
            self.post('/v3/lease/revoke', {'ID': self.lease})
        except (OSError, ValueError) as err:
            print(f'{SERVICE}: revoking the lease failed ({err}); the record expires in {self.ttl} s',
                  file=sys.stderr)


# ---------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=f'Switchyard `{SERVICE}` service (pika only).')
    p.add_argument('--amqp', default=os.environ.get('SWITCHYARD_AMQP') or DEFAULT_AMQP,
                   help='AMQP URL (env SWITCHYARD_AMQP; default %(default)s)')
    p.add_argument('--etcd', default=os.environ.get('SWITCHYARD_ETCD') or None,
                   help='etcd URL to register in (env SWITCHYARD_ETCD; default: do not register)')
    p.add_argument('--namespace', default=os.environ.get('SWITCHYARD_NAMESPACE') or DEFAULT_NAMESPACE,
                   help='Switchyard namespace (env SWITCHYARD_NAMESPACE; default %(default)s)')
    p.add_argument('--prefetch', type=int, default=100)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    conn = pika.BlockingConnection(pika.URLParameters(args.amqp))
    server = RpcServer(conn.channel(), args.namespace)
    server.start(args.prefetch)
    registration = None
    if args.etcd:
        endpoint = args.etcd.split(',')[0].strip()
        if not endpoint.startswith(('http://', 'https://')):
            endpoint = 'http://' + endpoint
        instance_id = f'{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}'
        registration = Registration(endpoint, args.namespace, instance_id)
        registration.register()
    print('READY', flush=True)

    # Short slices so a signal is noticed quickly; handlers run inside process_data_events.
    while not stopping:
        conn.process_data_events(time_limit=0.2)
        if registration is not None:
            registration.tick()

    # Deregister first: callers stop finding this instance before it stops taking requests.
    if registration is not None:
        registration.revoke()
    server.ch.basic_cancel(server.tag)
    conn.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
