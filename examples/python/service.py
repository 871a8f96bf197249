#!/usr/bin/env python3
"""The `inventory` service, written in Python from docs/protocol.md with only pika.

It proves the wire protocol is the whole contract: a Switchyard caller in TypeScript
(or any language) calls these methods, and this process can subscribe to events
published by anyone, with no Switchyard library on this side.

Methods (JSON only; any other content type is answered INVALID_ARGUMENT):
  reserve  {sku: non-empty string, qty: integer >= 1}  -> {reserved: true, sku, qty}
  fail     {code?: string, message?: string}           -> always an error reply
                                                          (default FAILED_PRECONDITION)
  whoami   {}                                          -> the caller headers it received

Streaming method (protocol §5: items within the caller's credit window, `end` last):
  levels   {sku: non-empty string, count?: integer >= 0 (default 3), failAt?: integer}
           -> items {sku, n, level} for n = 0..count-1; at n = failAt the stream ends
              with a NOT_FOUND error instead. Each stream that ends prints one line:
  STREAM {"id", "method", "reason": "end"|"error"|"cancelled"|"deadline", "sent"}

Bidi and client-streaming methods (protocol §9: `open` first with the caller's credit,
credit granted back as caller items are taken, never more items than the caller's
window + credit, pings when idle for a third of the heartbeat, the caller given up after a
whole heartbeat of silence; a caller item failing its check ends the call INVALID_ARGUMENT
with details.seq and details.direction "request"):
  chat   bidi, items {text: string} -> {echo: text, n: the item's x-seq}; after the
         caller's `end` one last item {summary: true, count} and then `end`
  total  client-streaming, items: numbers -> one reply {total, count}
  Each call that ends prints one line too ("reason" also "ok" for a client stream's reply
  and "lost" for a caller silent for a heartbeat; "received" counts caller items):
  STREAM {"id", "method", "reason", "sent", "received"}

Optionally (--subscribe PATTERN) it consumes events of one group, with the retry and
dead-letter rules of protocol §3. It prints one JSON line per event it handles:
  EVENT {"id", "topic", "payload", "attempt", "redelivered", "headers"}
An event whose payload has `"fail": true` makes the handler fail (so retries and the
dead-letter queue can be observed); a payload that is not a JSON object is invalid.

Tracing: every request and event handled here is a span of the caller's W3C trace (a new
span id whose parent is the one in `traceparent`; replies carry this service's span). With
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, the spans are posted
as OTLP/HTTP JSON from a background thread, with the standard library only.

Prints `READY` once consuming; exits 0 on SIGTERM/SIGINT after closing the connection.
"""

import argparse
import collections
import datetime
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import urllib.request

import pika

DEFAULT_AMQP = 'amqp://guest:guest@127.0.0.1:5672/%2F'
DEFAULT_NAMESPACE = 'switchyard'
JSON_TYPE = 'application/json'
DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to'
# Bidi and client streaming (protocol §9): the version spoken, windows and heartbeats.
BIDI_VERSION = '1'
DEFAULT_WINDOW = 16
MAX_WINDOW = 10000
DEFAULT_HEARTBEAT_MS = 10000
MIN_HEARTBEAT_MS = 100

# Codes a caller may retry (docs/errors.md); every other code is final.
RETRYABLE = {'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'CIRCUIT_OPEN', 'UNROUTABLE',
             'BULKHEAD_FULL', 'RATE_LIMITED', 'BUFFER_FULL'}


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


def header(props, name):
    """A header as a string (pika gives bytes for values that are not UTF-8)."""
    value = (props.headers or {}).get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def decode_json(props, body):
    """Decode a body per content_type; missing means JSON (protocol §2)."""
    content_type = (props.content_type or JSON_TYPE).split(';')[0].strip().lower()
    if content_type != JSON_TYPE:
        raise ServiceError('INVALID_ARGUMENT', f'unsupported content type "{props.content_type}"',
                           {'contentType': props.content_type})
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as err:
        raise ServiceError('INVALID_ARGUMENT', f'payload is not valid {JSON_TYPE}: {err}',
                           {'contentType': JSON_TYPE}) from None


# ---------------------------------------------------------------------------------
# Tracing (W3C trace context; OTLP/HTTP JSON export)

TRACEPARENT = re.compile(r'^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$')
SPAN_SERVER, SPAN_CONSUMER = 2, 5  # OTLP span kinds
STATUS_ERROR = 2


class Span:
    """One unit of work here, in the caller's trace when its traceparent is valid."""

    def __init__(self, name, kind, traceparent, attributes):
        m = TRACEPARENT.match(traceparent or '')
        valid = (m is not None and m.group(1) != 'ff' and m.group(2) != '0' * 32
                 and m.group(3) != '0' * 16 and not (m.group(1) == '00' and m.group(5)))
        if valid:
            self.trace_id, self.parent_id, self.flags = m.group(2), m.group(3), m.group(4)
        else:
            # Start a trace; sampled only when something records it.
            self.trace_id, self.parent_id = os.urandom(16).hex(), None
            self.flags = '01' if EXPORTER.enabled else '00'
        self.span_id = os.urandom(8).hex()
        self.name = name
        self.kind = kind
        self.attributes = dict(attributes)
        self.error = None
        self.start_ns = time.time_ns()

    def traceparent(self):
        """The header that makes this span the parent of the next hop."""
        return f'00-{self.trace_id}-{self.span_id}-{self.flags}'

    def fail(self, code, message):
        self.attributes['error.type'] = code
        self.error = message

    def end(self):
        if int(self.flags, 16) & 1:
            EXPORTER.submit(self, time.time_ns())


def otlp_value(v):
    if isinstance(v, bool):
        return {'boolValue': v}
    if isinstance(v, int):
        return {'intValue': str(v)}
    return {'stringValue': str(v)}


class OtlpExporter:
    """Posts ended spans in batches to an OTLP/HTTP traces endpoint; a no-op without one."""

    def __init__(self, env):
        endpoint = env.get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
        if not endpoint and env.get('OTEL_EXPORTER_OTLP_ENDPOINT'):
            endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'].rstrip('/') + '/v1/traces'
        disabled = env.get('OTEL_SDK_DISABLED', '').lower() == 'true' or env.get('OTEL_TRACES_EXPORTER') == 'none'
        self.endpoint = None if disabled else endpoint
        self.enabled = bool(self.endpoint)
        self.service = env.get('OTEL_SERVICE_NAME') or 'inventory'
        self.queue = queue.Queue(maxsize=4096)
        self.thread = None
        if self.enabled:
            self.thread = threading.Thread(target=self.run, name='otlp-exporter', daemon=True)
            self.thread.start()

    def submit(self, span, end_ns):
        if not self.enabled:
            return
        try:
            self.queue.put_nowait((span, end_ns))
        except queue.Full:
            pass  # Never slow the service down for its traces: drop the span.

    def run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            # Whatever else ended meanwhile goes in the same POST.
            while len(batch) < 512:
                try:
                    nxt = self.queue.get(timeout=0.05)
                except queue.Empty:
                    break
                if nxt is None:
                    self.post(batch)
                    return
                batch.append(nxt)
            self.post(batch)

    def post(self, batch):
        spans = []
        for span, end_ns in batch:
            out = {
                'traceId': span.trace_id, 'spanId': span.span_id, 'name': span.name, 'kind': span.kind,
                'startTimeUnixNano': str(span.start_ns), 'endTimeUnixNano': str(end_ns),
                'attributes': [{'key': k, 'value': otlp_value(v)} for k, v in span.attributes.items()],
                'status': {'code': STATUS_ERROR, 'message': span.error} if span.error else {},
            }
            if span.parent_id:
                out['parentSpanId'] = span.parent_id
            spans.append(out)
        body = {'resourceSpans': [{
            'resource': {'attributes': [{'key': 'service.name', 'value': {'stringValue': self.service}}]},
            'scopeSpans': [{'scope': {'name': 'switchyard-python-example'}, 'spans': spans}],
        }]}
        req = urllib.request.Request(self.endpoint, json.dumps(body).encode(), method='POST',
                                     headers={'content-type': 'application/json'})
        try:
            urllib.request.urlopen(req, timeout=5).close()
        except OSError as err:
            print(f'could not export {len(spans)} spans to {self.endpoint}: {err}', file=sys.stderr)

    def close(self):
        """Send what is queued (bounded wait), then stop."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(timeout=5)


EXPORTER = OtlpExporter(os.environ)


# ---------------------------------------------------------------------------------
# Methods


def reserve(payload, _props):
    # Validated by hand against {sku: string (min 1), qty: integer >= 1}, no other
    # properties; pointers and wording follow what Switchyard's SDK reports.
    if not isinstance(payload, dict):
        raise invalid('request', [{'pointer': '', 'message': 'must be an object'}])
    violations = []
    sku = payload.get('sku')
    qty = payload.get('qty')
    if 'sku' not in payload:
        violations.append({'pointer': '/sku', 'message': 'is required'})
    elif not isinstance(sku, str):
        violations.append({'pointer': '/sku', 'message': 'must be a string'})
    elif sku == '':
        violations.append({'pointer': '/sku', 'message': 'must be at least 1 character long'})
    if 'qty' not in payload:
        violations.append({'pointer': '/qty', 'message': 'is required'})
    elif isinstance(qty, bool) or not isinstance(qty, int):
        violations.append({'pointer': '/qty', 'message': 'must be an integer'})
    elif qty < 1:
        violations.append({'pointer': '/qty', 'message': 'must be at least 1'})
    for key in payload:
        if key not in ('sku', 'qty'):
            violations.append({'pointer': '/' + key.replace('~', '~0').replace('/', '~1'),
                               'message': 'is not an allowed property'})
    if violations:
        raise invalid('request', violations)
    return {'reserved': True, 'sku': sku, 'qty': qty}


def fail(payload, _props):
    payload = payload if isinstance(payload, dict) else {}
    code = payload.get('code') or 'FAILED_PRECONDITION'
    raise ServiceError(str(code), str(payload.get('message') or 'inventory is frozen'))


def whoami(_payload, props):
    return {name: header(props, name) for name in ('x-caller', 'x-source', 'traceparent')}


METHODS = {'reserve': reserve, 'fail': fail, 'whoami': whoami}


def levels(payload, _props):
    # The request is checked here, before the first item: a bad one is answered like a
    # unary call. The items come from the generator, pulled only as credit allows.
    if not isinstance(payload, dict):
        raise invalid('request', [{'pointer': '', 'message': 'must be an object'}])
    sku, count, fail_at = payload.get('sku'), payload.get('count', 3), payload.get('failAt')
    violations = []
    if not isinstance(sku, str) or sku == '':
        violations.append({'pointer': '/sku', 'message': 'must be a non-empty string'})
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        violations.append({'pointer': '/count', 'message': 'must be an integer >= 0'})
    if violations:
        raise invalid('request', violations)

    def items():
        for n in range(count):
            if n == fail_at:
                raise ServiceError('NOT_FOUND', f'level {n} of {sku} is gone')
            yield {'sku': sku, 'n': n, 'level': 100 - n}
    return items()


STREAMS = {'levels': levels}


# Bidi and client-streaming methods (protocol §9). A handler is a class made once per
# call: `check(item)` lists the violations of one caller item (checked as it arrives),
# `on_item` returns the items to answer with, and `on_end` (after the caller's `end`)
# returns the last items (bidi) or the one reply (client). They run on the connection's
# thread and never block; BidiSession decides when, within the credit each side granted.


class Chat:
    """bidi `chat`: {text} -> {echo: text, n: seq}; after the caller's end, {summary: true, count}."""

    kind = 'bidi'

    def __init__(self, _props):
        self.count = 0

    @staticmethod
    def check(item):
        if not isinstance(item, dict):
            return [{'pointer': '', 'message': 'must be an object'}]
        if not isinstance(item.get('text'), str):
            return [{'pointer': '/text', 'message': 'must be a string'}]
        return []

    def on_item(self, item, seq):
        self.count += 1
        return [{'echo': item['text'], 'n': seq}]

    def on_end(self):
        return [{'summary': True, 'count': self.count}]


class Total:
    """client-streaming `total`: numbers in -> one reply {total, count}."""

    kind = 'client'

    def __init__(self, _props):
        self.total = 0
        self.count = 0

    @staticmethod
    def check(item):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return [{'pointer': '', 'message': 'must be a number'}]
        return []

    def on_item(self, item, _seq):
        self.total += item
        self.count += 1
        return ()

    def on_end(self):
        return {'total': self.total, 'count': self.count}


BIDI = {'chat': Chat, 'total': Total}


# ---------------------------------------------------------------------------------
# RPC server (protocol §4)


class RpcServer:
    def __init__(self, channel, namespace, service, input_window=DEFAULT_WINDOW):
        self.ch = channel
        self.ns = namespace
        self.service = service
        self.queue = f'{namespace}.rpc.{service}'
        self.tag = None
        self.control_tag = None
        self.streams = {}  # correlation id -> OutgoingStream
        self.bidi = {}  # correlation id -> BidiSession
        self.input_window = input_window  # caller items of a bidi call we buffer (x-credit of open)

    def start(self, prefetch):
        self.ch.exchange_declare(f'{self.ns}.rpc', 'direct', durable=True)
        # Auto-delete, no arguments: must match every other server's declaration.
        self.ch.queue_declare(self.queue, durable=True, auto_delete=True)
        self.ch.queue_bind(self.queue, f'{self.ns}.rpc', routing_key=self.service)
        self.ch.basic_qos(prefetch_count=prefetch)
        self.tag = self.ch.basic_consume(self.queue, self.on_request, auto_ack=False)
        # Stream control (credit, cancel) and a bidi caller's items come to this channel's
        # own direct reply-to address, which every stream message carries in reply_to
        # (protocol §5, §9): so they must be published from this channel too.
        self.control_tag = self.ch.basic_consume(DIRECT_REPLY_TO, self.on_control, auto_ack=True)

    def on_request(self, ch, method, props, body):
        if not props.reply_to or not props.correlation_id:
            # Nobody to answer: drop it rather than leave it to be redelivered forever.
            print(f'dropping request without reply_to/correlation_id on {self.queue}', file=sys.stderr)
            ch.basic_ack(method.delivery_tag)
            return
        deadline = header(props, 'x-deadline')
        if deadline is not None:
            try:
                expired = int(deadline) <= time.time() * 1000
            except ValueError:
                expired = False
            if expired:
                ch.basic_ack(method.delivery_tag)  # the caller has given up
                return
        name = header(props, 'x-method')
        span = Span(f'{self.service}/{name or "?"}', SPAN_SERVER, header(props, 'traceparent'), {
            'rpc.system': 'switchyard', 'rpc.service': self.service, 'rpc.method': name or '',
            'messaging.system': 'rabbitmq'})
        try:
            if not name:
                raise ServiceError('INVALID_ARGUMENT', 'request has no x-method header')
            kind = header(props, 'x-stream-kind')
            if name in BIDI or kind is not None:
                # Before decoding: a bidi opening request has an empty body (protocol §9).
                self.open_bidi(method.delivery_tag, props, name, kind, span)
                return  # acked when the call is over
            payload = decode_json(props, body)
            handler = METHODS.get(name)
            window = header(props, 'x-stream-window')
            if name in STREAMS:
                if window is None:
                    raise ServiceError('FAILED_PRECONDITION', f'{self.service}.{name} is streaming: call it as a stream')
                items = STREAMS[name](payload, props)
                stream = OutgoingStream(self, method.delivery_tag, props, name, items, window, deadline, span)
                self.streams[props.correlation_id] = stream
                stream.pump()
                return  # acked when the stream is over
            if handler is None:
                raise ServiceError('UNIMPLEMENTED', f'{self.service} has no method "{name}"')
            if window is not None:
                raise ServiceError('FAILED_PRECONDITION', f'{self.service}.{name} is unary, not streaming')
            result = handler(payload, props)
            self.reply(props, 'ok', json.dumps(result).encode(), span)
        except ServiceError as err:
            span.fail(err.code, err.message)
            self.reply(props, 'error', json.dumps(err.body()).encode(), span)
        except Exception as err:  # noqa: BLE001 - a bug must still answer the caller
            print(f'{self.service}: handler crashed: {err!r}', file=sys.stderr)
            span.fail('INTERNAL', 'internal error')
            body = {'code': 'INTERNAL', 'message': 'internal error', 'retryable': False}
            self.reply(props, 'error', json.dumps(body).encode(), span)
        # Ack only after replying: a server dying mid-call lets another instance take it.
        ch.basic_ack(method.delivery_tag)
        span.end()

    def open_bidi(self, delivery_tag, props, name, kind, span):
        """Refuse a request that cannot open `name` (raises ServiceError), else open the call."""
        handler = BIDI.get(name)
        if handler is None and name not in METHODS and name not in STREAMS:
            raise ServiceError('UNIMPLEMENTED', f'{self.service} has no method "{name}"')
        if handler is None or handler.kind != kind:
            as_ = {'bidi': 'a bidi stream', 'client': 'a client stream'}.get(
                handler.kind if handler else None, 'a server stream' if name in STREAMS else 'a unary call')
            raise ServiceError('FAILED_PRECONDITION',
                               f'{self.service}.{name} is not a {kind or "unary or server-streaming"} method: '
                               f'call it as {as_}')
        version = header(props, 'x-stream-version')
        if version != BIDI_VERSION:
            raise ServiceError('FAILED_PRECONDITION', f'{self.service}.{name}: bidi stream version '
                               f'{json.dumps(version)} is not spoken here', {'supported': [BIDI_VERSION]})
        content_type = (props.content_type or JSON_TYPE).split(';')[0].strip().lower()
        if content_type != JSON_TYPE:
            # Items go both ways in the request's content type; only JSON is spoken here.
            raise ServiceError('INVALID_ARGUMENT', f'unsupported content type "{props.content_type}"',
                               {'contentType': props.content_type})
        session = BidiSession(self, delivery_tag, props, name, handler(props), span)
        self.bidi[session.id] = session
        session.open()

    def on_control(self, _ch, _method, props, body):
        session = self.bidi.get(props.correlation_id)
        if session is not None:
            return session.on_message(props, body)
        stream = self.streams.get(props.correlation_id)
        if stream is None:
            return  # the stream is over already
        control = header(props, 'x-control')
        if control == 'credit':
            stream.credit += int(header(props, 'x-credit') or '0')
            stream.pump()
        elif control == 'cancel':
            stream.finish('cancelled')

    def tick(self):
        """Timers, run between slices of process_data_events (BlockingConnection is single
        threaded): stream deadlines, bidi pings and lost callers. Returns how long the next
        slice may block."""
        now_ms = time.time() * 1000
        for stream in list(self.streams.values()):
            # At its deadline a stream stops; the caller fails it with DEADLINE_EXCEEDED itself.
            if stream.deadline_ms is not None and stream.deadline_ms <= now_ms:
                stream.finish('deadline')
        wait = 0.1  # so a signal is noticed quickly
        now = time.monotonic()
        for session in list(self.bidi.values()):
            due = session.tick(now)
            if due is not None:
                wait = min(wait, due)
        return max(0.001, wait)

    def reply(self, props, status, body, span):
        # The reply continues the trace from this service's span.
        headers = {'x-status': status, 'traceparent': span.traceparent()}
        # Every reply this service sends is JSON: the only codec it speaks.
        self.ch.basic_publish('', props.reply_to, body, pika.BasicProperties(
            correlation_id=props.correlation_id, content_type=JSON_TYPE, headers=headers))


class OutgoingStream:
    """One server-streaming call (protocol §5): at most `window` items beyond the credit granted."""

    def __init__(self, server, delivery_tag, props, method, items, window, deadline, span):
        self.server = server
        self.delivery_tag = delivery_tag
        self.props = props
        self.method = method
        self.items = items
        try:
            self.credit = max(1, int(window))
        except ValueError:
            self.credit = 16
        try:
            self.deadline_ms = int(deadline) if deadline is not None else None
        except ValueError:
            self.deadline_ms = None
        self.span = span
        self.seq = 0
        self.done = False

    def send(self, status, body, extra=None):
        headers = {'x-status': status, 'traceparent': self.span.traceparent(), **(extra or {})}
        # reply_to = our own direct reply-to: RabbitMQ rewrites it so the caller's credit
        # and cancel reach this channel.
        self.server.ch.basic_publish('', self.props.reply_to, body, pika.BasicProperties(
            correlation_id=self.props.correlation_id, content_type=JSON_TYPE,
            reply_to=DIRECT_REPLY_TO, headers=headers))

    def pump(self):
        """Send items while credit lasts; called at the start and on every credit."""
        while not self.done and self.credit > 0:
            try:
                item = next(self.items)
            except StopIteration:
                self.send('end', b'')
                return self.finish('end')
            except ServiceError as err:
                self.span.fail(err.code, err.message)
                self.send('error', json.dumps(err.body()).encode())
                return self.finish('error')
            except Exception as err:  # noqa: BLE001 - a bug must still end the stream
                print(f'{self.server.service}: stream handler crashed: {err!r}', file=sys.stderr)
                self.span.fail('INTERNAL', 'internal error')
                body = {'code': 'INTERNAL', 'message': 'internal error', 'retryable': False}
                self.send('error', json.dumps(body).encode())
                return self.finish('error')
            self.send('item', json.dumps(item).encode(), {'x-seq': str(self.seq)})
            self.seq += 1
            self.credit -= 1

    def finish(self, reason):
        if self.done:
            return
        self.done = True
        self.items.close()  # runs the generator's cleanup when it stopped early
        self.server.streams.pop(self.props.correlation_id, None)
        # Ack once the stream is over (end, error, cancel or deadline).
        self.server.ch.basic_ack(self.delivery_tag)
        if reason in ('cancelled', 'deadline'):
            self.span.fail('CANCELLED' if reason == 'cancelled' else 'DEADLINE_EXCEEDED', reason)
        self.span.end()
        print('STREAM ' + json.dumps({'id': self.props.correlation_id, 'method': self.method,
                                      'reason': reason, 'sent': self.seq}), flush=True)




def header_int(props, name, default, low, high):
    """A decimal header clamped to [low, high]; missing or not a number: the default."""
    try:
        return min(high, max(low, int(header(props, name))))
    except (TypeError, ValueError):
        return default


class BidiSession:
    """One bidi or client-streaming call (protocol §9), driven by messages and by tick().

    Caller items wait in `inbox` (at most the credit we granted), answers in `outbox`. An
    item is taken from the inbox only when the outbox is empty, so a caller that grants no
    credit stops the handler, which stops our credit to the caller: both sides' memory
    stays bounded by their windows.
    """

    def __init__(self, server, delivery_tag, props, name, handler, span):
        self.server = server
        self.delivery_tag = delivery_tag
        self.props = props
        self.id = props.correlation_id
        self.method = name
        self.handler = handler
        self.kind = handler.kind
        self.span = span
        try:
            self.deadline_ms = int(header(props, 'x-deadline')) if header(props, 'x-deadline') else None
        except ValueError:
            self.deadline_ms = None
        # What we may send: the caller's window, then every `credit` it sends.
        self.out_credit = header_int(props, 'x-stream-window', DEFAULT_WINDOW, 1, MAX_WINDOW)
        self.heartbeat = header_int(props, 'x-heartbeat', DEFAULT_HEARTBEAT_MS, MIN_HEARTBEAT_MS,
                                    2_147_483_647) / 1000
        # What the caller may send: our window (in `open`), then every `credit` we send.
        self.in_window = server.input_window
        self.granted = self.in_window
        self.batch = max(1, self.in_window // 2)  # credit goes back in batches of half the window
        self.uncredited = 0
        self.received = 0  # caller items received: the next x-seq expected
        self.inbox = collections.deque()
        self.outbox = collections.deque()
        self.input_ended = False
        self.handler_ended = False
        self.sent = 0
        self.done = False
        self.last_sent = self.last_received = time.monotonic()

    # -- to the caller

    def send(self, headers, body=b'', traced=True):
        self.last_sent = time.monotonic()
        if traced:
            headers = {**headers, 'traceparent': self.span.traceparent()}
        # reply_to = our own direct reply-to (RabbitMQ rewrites it): the caller's items and
        # control messages come back to this channel, which consumes it.
        self.server.ch.basic_publish('', self.props.reply_to, body, pika.BasicProperties(
            correlation_id=self.id, content_type=JSON_TYPE if body else None,
            reply_to=DIRECT_REPLY_TO, headers=headers))

    def open(self):
        # Before the handler runs: the caller learns our address and its credit.
        self.send({'x-status': 'open', 'x-stream-version': BIDI_VERSION, 'x-credit': str(self.in_window)})

    def fail(self, err, reason='error'):
        self.span.fail(err.code, err.message)
        self.send({'x-status': 'error'}, json.dumps(err.body()).encode())
        self.finish(reason)

    # -- from the caller

    def on_message(self, props, body):
        if self.done:
            return
        self.last_received = time.monotonic()  # any message proves the caller is alive
        control = header(props, 'x-control')
        if control == 'credit':
            try:
                self.out_credit += max(0, int(header(props, 'x-credit') or '0'))
            except ValueError:
                pass  # a bad grant grants nothing
            return self.pump()
        if control == 'cancel':
            return self.finish('cancelled')  # nothing more is sent
        if control is not None:
            return  # ping, or a later version's control message
        status = header(props, 'x-status')
        if status == 'item':
            return self.on_item(props, body)
        if status == 'end':
            self.input_ended = True
            return self.pump()

    def on_item(self, props, body):
        if self.input_ended:
            return  # after the caller's end: not read
        seq = header(props, 'x-seq')
        if seq != str(self.received):
            return self.fail(ServiceError('UNAVAILABLE', f'{self.method}: caller item {seq} came, '
                                          f'{self.received} expected; items were lost'))
        if self.received >= self.granted:
            return self.fail(ServiceError('RESOURCE_EXHAUSTED', f'{self.method}: the caller sent more items '
                                          'than it was granted', {'seq': self.received, 'granted': self.granted}))
        n = self.received
        self.received += 1
        try:
            item = decode_json(props, body)
        except ServiceError as err:
            return self.fail(item_invalid(self.method, n, err.message, []))
        violations = self.handler.check(item)
        if violations:
            summary = '; '.join(f"{v['pointer'] or '/'}: {v['message']}" for v in violations)
            return self.fail(item_invalid(self.method, n, summary, violations))
        self.inbox.append((n, item))
        self.pump()

    # -- the handler, within credit

    def pump(self):
        try:
            while not self.done:
                if self.outbox:
                    if self.out_credit <= 0:
                        return  # the caller's credit is spent: wait for `credit`
                    self.send({'x-status': 'item', 'x-seq': str(self.sent)},
                              json.dumps(self.outbox.popleft()).encode())
                    self.sent += 1
                    self.out_credit -= 1
                elif self.inbox:
                    seq, item = self.inbox.popleft()
                    self.grant()
                    self.outbox.extend(self.handler.on_item(item, seq) or ())
                elif self.input_ended and not self.handler_ended:
                    self.handler_ended = True
                    result = self.handler.on_end()
                    if self.kind == 'client':
                        self.send({'x-status': 'ok'}, json.dumps(result).encode())
                        return self.finish('ok')
                    self.outbox.extend(result or ())
                elif self.handler_ended:
                    self.send({'x-status': 'end'})
                    return self.finish('end')
                else:
                    return  # wait for the caller's next item or end
        except ServiceError as err:
            self.fail(err)
        except Exception as err:  # noqa: BLE001 - a bug must still end the call
            print(f'{self.server.service}: bidi handler crashed: {err!r}', file=sys.stderr)
            self.fail(ServiceError('INTERNAL', 'internal error'))

    def grant(self):
        """The handler took one caller item: give the caller credit back, in batches."""
        if self.input_ended:
            return
        self.uncredited += 1
        if self.uncredited >= self.batch:
            self.granted += self.uncredited
            self.send({'x-control': 'credit', 'x-credit': str(self.uncredited)}, traced=False)
            self.uncredited = 0

    # -- timers

    def tick(self, now):
        """Deadline, lost caller and pings; returns the seconds until this call needs a tick again."""
        if self.deadline_ms is not None and time.time() * 1000 >= self.deadline_ms:
            self.fail(ServiceError('DEADLINE_EXCEEDED', f'{self.method}: the stream passed its deadline'),
                      'deadline')
            return None
        if now - self.last_received >= self.heartbeat:
            # Silent for a whole heartbeat: the caller is gone; nobody hears an error.
            self.span.fail('UNAVAILABLE', 'the caller is gone')
            self.finish('lost')
            return None
        ping_every = self.heartbeat / 3
        if now - self.last_sent >= ping_every:
            self.send({'x-control': 'ping'}, traced=False)
        due = [self.last_sent + ping_every - now, self.last_received + self.heartbeat - now]
        if self.deadline_ms is not None:
            due.append(self.deadline_ms / 1000 - time.time())
        return min(due)

    def finish(self, reason):
        if self.done:
            return
        self.done = True
        self.inbox.clear()
        self.outbox.clear()
        self.server.bidi.pop(self.id, None)
        # Ack once the call is over, however it ended (prefetch bounds the calls served at once).
        self.server.ch.basic_ack(self.delivery_tag)
        if reason == 'cancelled':
            self.span.fail('CANCELLED', 'cancelled by the caller')
        self.span.end()
        print('STREAM ' + json.dumps({'id': self.id, 'method': self.method, 'reason': reason,
                                      'sent': self.sent, 'received': self.received}), flush=True)


def item_invalid(method, seq, why, violations):
    details = {'seq': seq, 'direction': 'request'}
    if violations:
        details['violations'] = violations
    return ServiceError('INVALID_ARGUMENT', f'{method}: request item #{seq} is invalid: {why}', details)


# ---------------------------------------------------------------------------------
# Event subscriber (protocol §3)


class Subscriber:
    def __init__(self, channel, namespace, group, pattern, queue_type, retry):
        self.ch = channel
        self.ns = namespace
        self.group = group
        self.pattern = pattern
        self.queue = f'{namespace}.events.{group}.{pattern}'
        self.dlq = f'{self.queue}.dlq'
        self.queue_type = queue_type
        self.retry = retry
        self.delays_declared = set()
        self.tag = None

    def start(self, prefetch):
        ch = self.ch
        ch.exchange_declare(f'{self.ns}.events', 'topic', durable=True)
        args = {
            'x-queue-type': self.queue_type,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': self.dlq,
        }
        if self.queue_type == 'quorum':
            args.update({'x-delivery-limit': 20, 'x-dead-letter-strategy': 'at-least-once',
                         'x-overflow': 'reject-publish'})
        ch.queue_declare(self.dlq, durable=True, arguments={'x-queue-type': self.queue_type})
        ch.queue_declare(self.queue, durable=True, arguments=args)
        ch.queue_bind(self.queue, f'{self.ns}.events', routing_key=self.pattern)
        # Confirm mode: a retry or dead-letter copy must be safe before the original is acked.
        ch.confirm_delivery()
        ch.basic_qos(prefetch_count=prefetch)
        self.tag = ch.basic_consume(self.queue, self.on_event, auto_ack=False)

    def on_event(self, ch, method, props, body):
        attempt = int(header(props, 'x-attempt') or '1')
        # A retried copy comes back from the delay queue with our queue's name as its
        # routing key, so the topic travels in a header from the first retry on.
        topic = header(props, 'x-original-topic') or method.routing_key
        try:
            payload = decode_json(props, body)
        except ServiceError as err:
            return self.dead_letter(method, props, body, topic, 'undecodable', err, attempt)
        if not isinstance(payload, dict):
            err = invalid('event', [{'pointer': '', 'message': 'must be an object'}])
            return self.dead_letter(method, props, body, topic, 'invalid', err, attempt)
        span = Span(f'process {topic}', SPAN_CONSUMER, header(props, 'traceparent'), {
            'messaging.system': 'rabbitmq', 'messaging.operation.type': 'process',
            'messaging.destination.name': topic, 'messaging.consumer.group.name': self.group,
            'messaging.message.id': props.message_id or '', 'switchyard.delivery.attempt': attempt})
        try:
            self.handle(topic, method, props, payload, attempt)
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried
            err = exc if isinstance(exc, ServiceError) else ServiceError('INTERNAL', str(exc))
            span.fail(err.code, err.message)
            span.end()
            if attempt < self.retry['attempts']:
                return self.retry_later(method, props, body, topic, attempt)
            return self.dead_letter(method, props, body, topic, 'handler-failed', err, attempt)
        ch.basic_ack(method.delivery_tag)
        span.end()

    def handle(self, topic, method, props, payload, attempt):
        line = {
            'id': props.message_id,
            'topic': topic,
            'payload': payload,
            'attempt': attempt,
            'redelivered': bool(method.redelivered),
            'headers': {k: header(props, k) for k in own_headers(props)},
        }
        print('EVENT ' + json.dumps(line), flush=True)
        if payload.get('fail') is True:
            raise ServiceError('INTERNAL', 'asked to fail')

    def retry_later(self, method, props, body, topic, attempt):
        r = self.retry
        delay = int(min(r['initial_delay_ms'] * r['factor'] ** (attempt - 1), r['max_delay_ms']))
        exchange = f'{self.ns}.delay.{delay}'
        if delay not in self.delays_declared:
            self.ch.exchange_declare(exchange, 'fanout', durable=True)
            self.ch.queue_declare(exchange, durable=True, arguments={
                'x-message-ttl': delay, 'x-dead-letter-exchange': ''})
            self.ch.queue_bind(exchange, exchange, routing_key='')
            self.delays_declared.add(delay)
        headers = own_headers(props)
        headers['x-attempt'] = str(attempt + 1)
        headers['x-original-topic'] = topic
        # Routing key = our queue: the delay queue dead-letters back to it by that key.
        self.ch.basic_publish(exchange, self.queue, body, copy_props(props, headers))
        self.ch.basic_ack(method.delivery_tag)

    def dead_letter(self, method, props, body, topic, reason, err, attempt):
        headers = own_headers(props)
        headers.update({
            'x-death-reason': reason,
            'x-error-code': err.code,
            'x-error-message': err.message,
            'x-attempt': str(attempt),
            'x-original-queue': self.queue,
            'x-original-topic': topic,
            'x-dead-lettered-at': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        })
        self.ch.basic_publish('', self.dlq, body, copy_props(props, headers))
        self.ch.basic_ack(method.delivery_tag)
        print('DEAD ' + json.dumps({'id': props.message_id, 'reason': reason, 'code': err.code}), flush=True)


def own_headers(props):
    """The message's headers without the x-death bookkeeping RabbitMQ added on expiry."""
    return {k: v for k, v in (props.headers or {}).items()
            if k != 'x-death' and not k.startswith(('x-first-death-', 'x-last-death-'))}


def copy_props(props, headers):
    return pika.BasicProperties(
        content_type=props.content_type, message_id=props.message_id, timestamp=props.timestamp,
        delivery_mode=props.delivery_mode or 2, headers=headers)


# ---------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description='Switchyard `inventory` service in Python (pika only).')
    p.add_argument('--amqp', default=os.environ.get('SWITCHYARD_AMQP', DEFAULT_AMQP),
                   help='AMQP URL (env SWITCHYARD_AMQP; default %(default)s)')
    p.add_argument('--namespace', default=os.environ.get('SWITCHYARD_NAMESPACE', DEFAULT_NAMESPACE),
                   help='Switchyard namespace (env SWITCHYARD_NAMESPACE; default %(default)s)')
    p.add_argument('--service', default='inventory', help='service name to serve (default %(default)s)')
    p.add_argument('--prefetch', type=int, default=100)
    p.add_argument('--input-window', type=int, default=DEFAULT_WINDOW,
                   help='caller items of a bidi call buffered before the caller waits for credit')
    p.add_argument('--subscribe', metavar='PATTERN', help='also consume events matching this topic pattern')
    p.add_argument('--group', default='inventory', help='subscription group (default %(default)s)')
    p.add_argument('--queue-type', choices=('quorum', 'classic'), default='quorum')
    p.add_argument('--attempts', type=int, default=5, help='handler attempts before dead-lettering')
    p.add_argument('--initial-delay-ms', type=int, default=1000)
    p.add_argument('--factor', type=float, default=2)
    p.add_argument('--max-delay-ms', type=int, default=60000)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    params = pika.URLParameters(args.amqp)
    conn = pika.BlockingConnection(params)
    rpc_ch = conn.channel()
    server = RpcServer(rpc_ch, args.namespace, args.service, args.input_window)
    server.start(args.prefetch)
    sub = None
    if args.subscribe:
        # Its own channel: confirm mode there must not slow down RPC replies.
        sub = Subscriber(conn.channel(), args.namespace, args.group, args.subscribe, args.queue_type, {
            'attempts': args.attempts, 'initial_delay_ms': args.initial_delay_ms,
            'factor': args.factor, 'max_delay_ms': args.max_delay_ms})
        sub.start(args.prefetch)
    print('READY', flush=True)

    # Short slices so a signal is noticed quickly and timers run on time; handlers run
    # inside process_data_events.
    try:
        while not stopping:
            conn.process_data_events(time_limit=server.tick())
    except pika.exceptions.AMQPError as err:
        # No reconnection here: unacked messages are back in RabbitMQ already, and a
        # supervisor (systemd, compose `restart:`) starts a fresh process.
        print(f'lost the connection to RabbitMQ: {err!r}', file=sys.stderr)
        return 1

    # Cancel first: unacked deliveries go back to the queue for another instance.
    # Streams in flight are not acked: RabbitMQ hands them to another instance, whose
    # x-seq 0 tells their callers the stream was interrupted (protocol §5).
    rpc_ch.basic_cancel(server.tag)
    if sub is not None:
        sub.ch.basic_cancel(sub.tag)
    conn.close()
    EXPORTER.close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
