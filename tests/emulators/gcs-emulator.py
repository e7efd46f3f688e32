"""gcp-storage-emulator, with the fixes object_store needs to reach it.

object_store talks to GCS through the XML API, which this emulator (2026.7.19) implements only
partly. The gaps it has, mended here without touching anything else:
- object paths come percent-encoded (`PUT /my%2Dbucket/teams%2Fchannels%2Eparquet`), which real
  GCS decodes and the emulator routes undecoded (501 Not Implemented);
- XML uploads and downloads answer without the ETag, Last-Modified and x-goog-generation
  headers real GCS sends and object_store requires;
- the XML listing (`GET /bucket?list-type=2&prefix=..`), which deltalake uses to find a
  table's log, is missing: it is answered here from the emulator's own object list;
- HEAD, which object_store uses for an object's size, is not served: it is answered as GET
  without the body;
- a copy (`PUT` with `x-goog-copy-source: bucket/object` and no body), which object_store's
  `copy` and `rename` send and teams-sql uses to move a staged COPY into place, is taken for an
  empty upload and fails: it is answered here by copying the object;
- DELETE on an XML object path (object_store's `delete`) is not routed: it is routed here to
  the emulator's own delete.
Conditional writes (`x-goog-if-generation-match`) stay ignored, so concurrent Delta writers
cannot be tested against it; a single writer can.

Usage: gcs-emulator.py start --host 127.0.0.1 --port PORT --in-memory
"""

import sys
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from urllib.parse import unquote
from xml.sax.saxutils import escape

from gcp_storage_emulator import server
from gcp_storage_emulator.__main__ import main
from gcp_storage_emulator.handlers import objects

server.Request.path = property(lambda self: unquote(self._parsed_url.path))


def with_object_headers(handler):
    def wrapped(request, response, storage, *args, **kwargs):
        handler(request, response, storage, *args, **kwargs)
        if response.status >= 300:
            return
        try:
            obj = storage.get_file_obj(
                request.params["bucket_name"], request.params["object_id"]
            )
        except Exception:
            return
        response["ETag"] = '"{}"'.format(obj.get("etag") or obj.get("md5Hash"))
        updated = datetime.fromisoformat(obj["updated"].replace("Z", "+00:00"))
        response["Last-Modified"] = format_datetime(updated, usegmt=True)
        response["x-goog-generation"] = str(obj.get("generation", "1"))

    return wrapped


def with_xml_copy(upload):
    """PUT Object (copy) of the XML API: the source comes in a header, percent-encoded."""

    def wrapped(request, response, storage, *args, **kwargs):
        source = request.get_header("x-goog-copy-source", None)
        if not source:
            return upload(request, response, storage, *args, **kwargs)
        src_bucket, _, src_object = unquote(source).lstrip("/").partition("/")
        try:
            objects._copy(
                request.base_url,
                storage,
                src_bucket,
                src_object,
                request.params["bucket_name"],
                request.params["object_id"],
            )
        except Exception:
            response.status = HTTPStatus.NOT_FOUND

    return wrapped


for _, handlers in server.HANDLERS:
    for method, handler in list(handlers.items()):
        if handler is objects.xml_upload:
            handlers[method] = with_object_headers(with_xml_copy(handler))
            # DELETE Object of the XML API (object_store's delete, and rename's second half).
            handlers[server.DELETE] = objects.delete
        elif handler is objects.download:
            handlers[method] = with_object_headers(handler)


def xml_list(request, response, storage, *args, **kwargs):
    """ListObjectsV2 in GCS's XML dialect: Contents and CommonPrefixes, one page."""
    query = {k: v[0] for k, v in request.query.items()}
    prefix = query.get("prefix") or None
    delimiter = query.get("delimiter") or None
    start_after = query.get("start-after") or ""
    try:
        objs, prefixes = storage.get_file_list(
            request.params["bucket_name"], prefix, delimiter
        )
    except Exception:
        response.status = HTTPStatus.NOT_FOUND
        return
    contents = "".join(
        "<Contents><Key>{}</Key><Size>{}</Size><LastModified>{}</LastModified>"
        "<ETag>&quot;{}&quot;</ETag></Contents>".format(
            escape(o["name"]), o["size"], o["updated"], o.get("etag", "")
        )
        for o in objs
        if o["name"] > start_after
    )
    common = "".join(
        "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>".format(escape(p))
        for p in prefixes
        if p > start_after
    )
    response.write_file(
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
        "<Name>{}</Name><Prefix>{}</Prefix><IsTruncated>false</IsTruncated>{}{}"
        "</ListBucketResult>".format(
            escape(request.params["bucket_name"]), escape(prefix or ""), contents, common
        ),
        "application/xml",
    )


def head(self):
    server.Router(self).handle(server.GET)


def close_without_body_for_head(close):
    def wrapped(self):
        if self._handler.command == "HEAD":
            self._handler.send_response(self.status.value, self.status.phrase)
            for k, v in self._headers.items():
                self._handler.send_header(k, v)
            content = self._content
            if isinstance(content, str):
                content = content.encode("utf-8")
            self._handler.send_header("Content-Length", str(len(content)))
            self._handler.end_headers()
        else:
            close(self)

    return wrapped


server.RequestHandler.do_HEAD = head
server.Response.close = close_without_body_for_head(server.Response.close)
server.HANDLERS = server.HANDLERS + ((r"^/(?P<bucket_name>[-.\w]+)/?$", {server.GET: xml_list}),)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
