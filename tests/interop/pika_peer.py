"""The other side of flowgate's interop test, written with Python's pika.

    pika_peer.py publish URL QUEUE N    publishes N messages "pika-<i>" with
                                        publisher confirms, each with a
                                        "seq" header, and exits 0 once all
                                        are confirmed
    pika_peer.py consume URL QUEUE N    consumes N messages, acking each,
                                        prints each body on its own line
"""
import sys

import pika


def main():
    mode, url, queue, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    if mode == "publish":
        channel.confirm_delivery()
        for i in range(count):
            # With confirms on, basic_publish raises if the broker nacks.
            channel.basic_publish(
                exchange="",
                routing_key=queue,
                body=f"pika-{i}".encode(),
                properties=pika.BasicProperties(headers={"seq": i}),
                mandatory=True,
            )
    elif mode == "consume":
        channel.basic_qos(prefetch_count=10)
        got = 0
        for method, _properties, body in channel.consume(queue, inactivity_timeout=60):
            if method is None:
                sys.exit(f"only {got} of {count} messages arrived within 60 s")
            print(body.decode(), flush=True)
            channel.basic_ack(method.delivery_tag)
            got += 1
            if got == count:
                break
        channel.cancel()
    else:
        sys.exit(f"unknown mode {mode}")
    connection.close()


if __name__ == "__main__":
    main()
