# HttpArena's upload mix (gcannon -r 5, 0.5/2/10/20 MB bodies) against a server pinned to CPU 0:
# server user/system µs per upload, the load generator's and the server's sleeps per second,
# an `ss -tmi` snapshot of the server's sockets, optionally `perf record -g` (PERFDIR).
# The 10/20 MB bodies are the runner's (benchmarks/httparena/run makes them in its cache).
# Usage: ROUNDS=3 [PERFDIR=dir] [ENV_NAME="K=V ..."] python3 upload_wakes.py NAME=PYTHON,granian,...
import re, os, sys, time, subprocess, socket, signal, json, threading
G=os.path.expanduser("~/.cache/ringbolt-arena/bin/gcannon")
A=os.environ.get("ARENA_DIR", "/work/httparena")  # the HttpArena checkout
R=A+"/requests/"; C=os.path.expanduser("~/.cache/ringbolt-arena/")
RAW=",".join([R+"upload-500k.raw",R+"upload-2m.raw",C+"upload-10m.raw",C+"upload-20m.raw"])
def wait(port):
    for _ in range(300):
        try: socket.create_connection(("127.0.0.1",port),0.2).close(); return
        except OSError: time.sleep(0.05)
    raise SystemExit("no listen")
def tree(pid):
    out=[pid]
    try:
        for c in open(f"/proc/{pid}/task/{pid}/children").read().split(): out+=tree(int(c))
    except FileNotFoundError: pass
    return out
def rdcs(pid):
    v=n=0
    for tid in os.listdir(f"/proc/{pid}/task"):
        t=open(f"/proc/{pid}/task/{tid}/status").read(); v+=int(re.search(r"\nvoluntary_ctxt_switches:\s+(\d+)",t).group(1)); n+=int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)",t).group(1))
    return v,n
def run(name, py, conns=64, perfdir=None, dur=5, env_extra={}):
    port=18080
    if name.startswith("granian"):
        gv=C+"venvs/granian/bin/granian"
        argv=["taskset","-c","0",gv,"--interface","asgi","--host","127.0.0.1","--port",str(port),"--workers","1","--runtime-threads","1","--runtime-mode","st","--loop","uvloop","--log-level","error","app:app"]
        env=dict(os.environ,DATASET_PATH=A+"/data/dataset.json"); cwd=A+"/frameworks/uvicorn"
    else:
        env=dict(os.environ,DATASET_PATH=A+"/data/dataset.json",STATIC_DIR=A+"/data/static",WEB_CONCURRENCY="1",ARENA_PORT=str(port),ARENA_HOST="127.0.0.1",TLS_CERT="/nonexist",**env_extra)
        argv=["taskset","-c","0",os.path.abspath(py),os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "httparena", "ringbolt", "launcher.py")]; cwd="/tmp"
    p=subprocess.Popen(argv,env=env,stdout=subprocess.DEVNULL,stderr=open(f"/tmp/upload-wakes-{name}.err","w"),cwd=cwd)
    try:
        wait(port); time.sleep(0.5)
        pids=tree(p.pid)
        def tcpu():
            u=s=0
            for q in pids:
                try:
                    f=open(f"/proc/{q}/stat").read().rsplit(")",1)[1].split(); u+=int(f[11]); s+=int(f[12])
                except FileNotFoundError: pass
            return u,s
        u0,s0=tcpu()
        g=subprocess.Popen(["taskset","-c","1",G,f"http://127.0.0.1:{port}","--raw",RAW,"-c",str(conns),"-t","1","-d",f"{dur}s","-p","1","-r","5","--json"],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,text=True)
        pr=None
        if perfdir:
            time.sleep(1.5)
            pr=subprocess.Popen(["perf","record","-g","-o",f"{perfdir}/{name}.data","-p",",".join(map(str,pids)),"--","sleep","2"],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
        cs=[None]; ssout=[""]
        def samp():
            time.sleep(1.0)
            a=rdcs(g.pid); b=[rdcs(q) for q in pids]; t=time.time()
            time.sleep(1.0)
            ssout[0]=subprocess.run(["ss","-tmin","state","established","( sport = :%d )"%port],capture_output=True,text=True).stdout
            time.sleep(1.0)
            a2=rdcs(g.pid); b2=[rdcs(q) for q in pids]
            cs[0]=(a2[0]-a[0],a2[1]-a[1],sum(x[0] for x in b2)-sum(x[0] for x in b),time.time()-t)
        th=threading.Thread(target=samp); th.start()
        out=g.communicate()[0]; th.join(); u1,s1=tcpu()
        if pr: pr.wait()
        j=json.loads(out[out.index("{"):])
        n=j["status"]["2xx"] if "status" in j else j.get("requests")
        hz=os.sysconf("SC_CLK_TCK")
        open(f"/tmp/upload-wakes-ss-{name}.txt","w").write(ssout[0])
        return dict(sys=name,n=n,rps=round(n/dur,1),user_us=round((u1-u0)/hz/n*1e6),sys_us=round((s1-s0)/hz/n*1e6),client_sleeps_s=round(cs[0][0]/cs[0][3]),client_invol_s=round(cs[0][1]/cs[0][3]),server_sleeps_s=round(cs[0][2]/cs[0][3]),load=open("/proc/loadavg").read().split()[0])
    finally:
        p.send_signal(signal.SIGTERM)
        try: p.wait(5)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
if __name__=="__main__":
    perf=os.environ.get("PERFDIR")
    systems=sys.argv[1].split(",")  # name=python or granian
    for rnd in range(int(os.environ.get("ROUNDS","2"))):
        for s in systems:
            name,_,py=s.partition("=")
            envx=dict(kv.split("=",1) for kv in os.environ.get("ENV_"+name.upper(),"").split() if kv)
            print(json.dumps(run(name,py,perfdir=perf if rnd==0 else None,env_extra=envx)),flush=True)
