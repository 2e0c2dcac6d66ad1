#!/usr/bin/env python3
# Hostile requests against `vaxcert verify serve` (issue 13): half a million empty texts,
# sixteen 64 KiB texts, a picture of thousands of finder patterns, a 16-megapixel picture and
# one just over the pixel cap, 24 of each from 8 threads at once; prints the answers and the
# server's peak RSS (VmHWM). Usage: python3 benches/hostile_verify.py [verify serve flags…]
# (needs target/debug/vaxcert and /tmp/finders.png from benches/finders_png.py).

import json, base64, subprocess, threading, urllib.request, time, sys, os
V='/work/main/target/debug/vaxcert'
p=subprocess.Popen([V,'verify','serve','--listen','127.0.0.1:0']+sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,text=True)
url=p.stdout.readline().strip().rsplit(' ',1)[-1].replace('/verify','')
def post(body):
    try:
        r=urllib.request.urlopen(urllib.request.Request(url+'/v1/verify',data=body,headers={'Content-Type':'application/json'}),timeout=60); return r.status, len(r.read())
    except urllib.error.HTTPError as e: return e.code, len(e.read())
    except Exception as e: return str(e), 0
finders=base64.b64encode(open('/tmp/finders.png','rb').read()).decode()
import zlib,struct
def png(w,h):
    raw=b''.join(b'\x00'+b'\xff'*w for _ in range(h))
    c=lambda t,d: struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff)
    return base64.b64encode(b'\x89PNG\r\n\x1a\n'+c(b'IHDR',struct.pack('>IIBBBBB',w,h,8,0,0,0,0))+c(b'IDAT',zlib.compress(raw,9))+c(b'IEND',b'')).decode()
big=png(4000,4000)   # 16 Mpx: at the limit, decoded
bodies={
 'many-empty-texts':('{"texts":['+'"",'*500000+'""]}').encode(),
 'sixteen-64k':json.dumps({"texts":["shc:/"+"5"*65000]*16}).encode(),
 'finders':json.dumps({"image_base64":finders}).encode(),
 'big-image':json.dumps({"image_base64":big}).encode(),
 'too-big-image':json.dumps({"image_base64":png(4200,4096)}).encode(),
}
results={}
def worker(name,body,n):
    out=[post(body) for _ in range(n)]
    results.setdefault(name,[]).extend(out)
threads=[]
for name,body in bodies.items():
    for _ in range(8):
        t=threading.Thread(target=worker,args=(name,body,3)); t.start(); threads.append(t)
t0=time.time()
for t in threads: t.join()
el=time.time()-t0
status=open('/proc/%d/status'%p.pid).read()
hwm=[l for l in status.splitlines() if l.startswith('VmHWM')][0]
p.kill()
for k,v in results.items():
    from collections import Counter
    print(k, dict(Counter(s for s,_ in v)), 'max answer bytes', max(n for _,n in v))
print(hwm, 'elapsed %.1fs'%el)
