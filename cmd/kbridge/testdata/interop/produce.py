#!/usr/bin/python3
"""Produces Avro, Protobuf and JSON Schema records with Confluent's Python client (Debian's
python3-confluent-kafka), registering their schemas in a Schema Registry.

usage: produce.py BOOTSTRAP REGISTRY_URL COUNT        produce COUNT records of each format
       produce.py --dump REGISTRY_URL                 print one value of each format as hex
Topics: interop-avro, interop-proto, interop-json. Each record i has key "order-<i>"."""
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from confluent_kafka import Producer, avro
from confluent_kafka.avro import AvroProducer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

AVRO_VALUE = avro.loads("""{"type": "record", "name": "Order", "namespace": "interop", "fields": [
  {"name": "id", "type": "string"},
  {"name": "quantity", "type": "int"},
  {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
  {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "express", "type": "boolean"}]}""")
AVRO_KEY = avro.loads('"string"')

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

JSON_SCHEMA = """{"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
  "properties": {"id": {"type": "string"}, "quantity": {"type": "integer"}, "price": {"type": "number"}},
  "required": ["id", "quantity", "price"]}"""


def order_message_class():
    """A Protobuf message class built from a descriptor, as protoc would generate it."""
    fdp = descriptor_pb2.FileDescriptorProto(name="interop/order.proto", package="interop", syntax="proto3")
    m = fdp.message_type.add(name="Order")
    T = descriptor_pb2.FieldDescriptorProto
    for number, (name, typ) in enumerate([("id", T.TYPE_STRING), ("quantity", T.TYPE_INT32),
                                          ("price", T.TYPE_DOUBLE), ("express", T.TYPE_BOOL)], 1):
        m.field.add(name=name, number=number, type=typ, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    desc = pool.Add(fdp) and pool.FindMessageTypeByName("interop.Order")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    dump = sys.argv[1] == "--dump"
    registry = sys.argv[2]
    count = 1 if dump else int(sys.argv[3])
    sr = SchemaRegistryClient({"url": registry})
    Order = order_message_class()
    proto = ProtobufSerializer(Order, sr)
    js = JSONSerializer(JSON_SCHEMA, sr)
    conf = {"bootstrap.servers": "127.0.0.1:1" if dump else sys.argv[1]}
    plain = Producer(conf)
    avro_producer = None if dump else AvroProducer({**conf, "schema.registry.url": registry},
                                                   default_value_schema=AVRO_VALUE, default_key_schema=AVRO_KEY)
    for i in range(count):
        key = "order-%d" % i
        order = {"id": key, "quantity": i, "price": Decimal("12.34") + i,
                 "placed": EPOCH + timedelta(milliseconds=1700000000000 + i), "note": None if i % 2 else "gift %d" % i, "express": i % 3 == 0}
        pb = proto(Order(id=key, quantity=i, price=0.5 + i, express=i % 3 == 0),
                   SerializationContext("interop-proto", MessageField.VALUE))
        js_value = js({"id": key, "quantity": i, "price": 2.5 + i},
                      SerializationContext("interop-json", MessageField.VALUE))
        if dump:
            print("proto", pb.hex())
            print("json", js_value.hex())
            continue
        avro_producer.produce(topic="interop-avro", key=key, value=order)
        plain.produce("interop-proto", key=key, value=pb)
        plain.produce("interop-json", key=key, value=js_value)
        avro_producer.poll(0)
        plain.poll(0)
    if not dump:
        if avro_producer.flush(30) or plain.flush(30):
            sys.exit("records not delivered")
    print("produced", count)


if __name__ == "__main__":
    main()
