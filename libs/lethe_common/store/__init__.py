"""How Lethe's code uses the document store so that it holds on the dev store too.

FerretDB 1.24 (the dev and test store, patched: docs/architecture.md) serves by
index only filters on ``_id``: equality, ``$in`` and ranges with string bounds,
and a page (sort on ``_id`` and limit) of such a range. Everything else scans the
collection. It also runs every update as a read followed by a replace, so only
an insert into a unique ``_id`` and a delete checked by its count are atomic.

The helpers here build on exactly those: ``_id`` keys that sort the way they are
read (:mod:`keys`), keyset pages (:mod:`paging`), index documents a person's or a
queue's items are found by (:mod:`index`), and append-only logs whose steps are
unique inserts, so concurrent writers of one thing never lose one another
(:mod:`steps`). All of it is equally correct on MongoDB.
"""
