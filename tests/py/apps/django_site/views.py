import os

from django.db import connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    return HttpResponse(f"hello from django, {request.GET.get('name', 'nobody')}", content_type="text/plain")


@csrf_exempt
def notes(request):
    with connection.cursor() as cur:
        if request.method == "POST":
            cur.execute("INSERT INTO notes (text) VALUES (%s)", [request.POST["text"]])
            return JsonResponse({"id": cur.lastrowid}, status=201)
        cur.execute("SELECT id, text FROM notes ORDER BY id")
        return JsonResponse({"notes": [{"id": i, "text": t} for i, t in cur.fetchall()]})


def note(request, nid):
    with connection.cursor() as cur:
        cur.execute("SELECT text FROM notes WHERE id = %s", [nid])
        row = cur.fetchone()
    if row is None:
        raise Http404("no such note")
    return JsonResponse({"id": nid, "text": row[0]})


def boom(request):
    raise RuntimeError("django-view-raised")


def file(request):
    return FileResponse(open(os.environ["WSGI_TEST_FILE"], "rb"), content_type="application/octet-stream")
