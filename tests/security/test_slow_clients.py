"""Slow clients against the real server on loopback (the options `certseal serve` uses):
connections that trickle their headers, send nothing, or trickle a body are cut off
(408) within the deadlines, while an ordinary client is served meanwhile and an honest
upload at a reasonable rate is not cut. Every loop here is bounded in time."""

from __future__ import annotations

import asyncio
import time

import domain_kit
import httpx
import pytest

from api.app import create_app

REQUEST_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: trickle\r\n\r\n"


async def _trickle(port: int, data: bytes, every: float, give_up: float, head: bytes = b""
                   ) -> tuple[float, bytes]:
    """Send ``head`` at once, then ``data`` one byte at a time, ``every`` seconds apart,
    reading whatever comes back; (seconds until the server closed, what it sent).
    ``give_up``: seconds."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    answer = b""

    async def read_all() -> None:
        nonlocal answer
        while chunk := await reader.read(65536):
            answer += chunk

    reading = asyncio.ensure_future(read_all())
    try:
        for byte in data:
            if reading.done() or time.monotonic() - started > give_up:
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([reading], timeout=every)
        await asyncio.wait_for(reading, timeout=max(0.1, give_up - (time.monotonic()
                                                                      - started)))
    except (TimeoutError, ConnectionError):
        pass
    finally:
        reading.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def _ordinary(base_url: str, times: int) -> list[float]:
    seconds = []
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        for _ in range(times):
            started = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            seconds.append(time.monotonic() - started)
            await asyncio.sleep(0.5)
    return seconds


def test_trickled_headers_idle_connections_and_trickled_bodies_are_cut(trust_domain):
    # (Not /v1/verify: its admission control refuses uploads beyond its places at once.)
    body_head = (b"POST /v1/licences HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    settings = trust_domain.domain.settings
    assert settings.client_header_timeout == 10.0  # the defaults are what is tested
    port = domain_kit.free_port()
    app = create_app(settings, domain=trust_domain.domain)

    async def attack(base_url: str):
        headers = [_trickle(port, REQUEST_HEAD * 50, 2.0, 30) for _ in range(150)]
        idle = [_trickle(port, b"", 1.0, 30) for _ in range(50)]
        bodies = [_trickle(port, b"%" * 1000, 0.1, 30, head=body_head) for _ in range(20)]
        await asyncio.sleep(0)
        results = await asyncio.gather(*headers, *idle, *bodies, _ordinary(base_url, 12))
        return results[:150], results[150:200], results[200:220], results[220]

    with domain_kit.serving(trust_domain, app=app, port=port) as base_url:
        headers, idle, bodies, ordinary = asyncio.run(attack(base_url))
    for name, outcomes, low, high in (("headers", headers, 9.5, 13.0),
                                      ("idle", idle, 9.5, 13.0),
                                      ("bodies", bodies, 9.5, 13.5)):
        seconds = sorted(s for s, _ in outcomes)
        assert low <= seconds[0] and seconds[-1] <= high, (name, seconds[0], seconds[-1])
        assert all(answer.startswith(b"HTTP/1.1 408 ") for _, answer in outcomes), name
    assert max(ordinary) < 2.0, ordinary  # served all along


@pytest.fixture
def short_deadlines(trust_domain):
    settings = trust_domain.domain.settings.model_copy(update={
        "client_header_timeout": 1.5, "client_body_timeout": 1.5,
        "client_body_min_rate": 1000})
    port = domain_kit.free_port()
    app = create_app(settings, domain=trust_domain.domain)
    with domain_kit.serving(trust_domain, app=app, port=port, settings=settings) as base_url:
        yield port, base_url


def test_an_upload_above_the_rate_floor_is_not_cut(short_deadlines):
    port, _ = short_deadlines
    # 4,000 bytes a second for two seconds: past the 1.5 s, in time.
    body = b'{"type": "yyzz", "data": {"x": "' + b"y" * 7_960 + b'"}}'
    request = (b"POST /v1/licences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))

    async def upload() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        for i in range(0, len(body), 400):
            writer.write(body[i:i + 400])
            await writer.drain()
            await asyncio.sleep(0.1)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        return answer

    answer = asyncio.run(upload())
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]  # read whole, then judged


def test_oversized_headers_are_refused(short_deadlines):
    port, _ = short_deadlines

    async def send() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # 70 KiB of headers, never finished, then nothing more (so that all of it is read
        # and the answer is not lost to a reset).
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                     + (b"X-Filler: " + b"a" * 1000 + b"\r\n") * 70)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        return answer

    assert asyncio.run(send()).startswith(b"HTTP/1.1 431 ")


def test_a_kept_alive_connection_gets_a_fresh_deadline_per_request(short_deadlines):
    port, _ = short_deadlines

    async def two_requests() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = b""
        for _ in range(2):
            await asyncio.sleep(1.0)  # idle, within keep-alive and the header deadline
            writer.write(REQUEST_HEAD)
            await writer.drain()
            answers += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            length = int(answers.split(b"content-length: ")[-1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()
        return answers

    assert asyncio.run(two_requests()).count(b"HTTP/1.1 200 ") == 2
