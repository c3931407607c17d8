fetch("/api/time").then((r) => r.json()).then((t) => console.log("server time", t.now));
