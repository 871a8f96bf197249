"""Unit tests of the {{service}} handler: no RabbitMQ or etcd needed (python3 -m unittest)."""

import json
import pathlib
import unittest

import service


class GreetTest(unittest.TestCase):
    def test_greets(self):
        self.assertEqual(service.greet({'name': 'Ada'}), {'message': 'Hello, Ada!'})

    def test_refuses_what_the_schema_refuses(self):
        for payload, pointer in [({}, '/name'), ({'name': ''}, '/name'), ({'name': 7}, '/name'),
                                 ({'name': 'Ada', 'x': 1}, '/x'), ([], '')]:
            with self.subTest(payload=payload):
                with self.assertRaises(service.ServiceError) as caught:
                    service.greet(payload)
                body = caught.exception.body()
                self.assertEqual(body['code'], 'INVALID_ARGUMENT')
                self.assertFalse(body['retryable'])
                self.assertIn(pointer, [v['pointer'] for v in body['details']['violations']])

    def test_registry_names_the_schema_files(self):
        root = pathlib.Path(__file__).parent / 'schemas' / service.SERVICE
        ids = {json.loads(p.read_text())['$id'] for p in root.glob('*.json')}
        info = service.METHOD_INFO['greet']
        self.assertEqual(ids, {info['request'], info['response']})


if __name__ == '__main__':
    unittest.main()
