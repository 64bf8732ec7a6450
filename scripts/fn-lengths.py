#!/usr/bin/env python3
"""Lists the longest functions of the given source folders (brace matching on the text),
longest first: issue 17 keeps the library crates under ~100 lines a function.

    N=20 scripts/fn-lengths.py loader/src obj/src sys/src maps/src prog/src cli/src
"""
import os
import re
import sys

res=[]
for root in sys.argv[1:]:
  for dp,dn,fn in os.walk(root):
    if 'target' in dp: continue
    for f in fn:
      if not f.endswith('.rs'): continue
      p=os.path.join(dp,f); L=open(p).read().split('\n')
      i=0
      while i<len(L):
        m=re.match(r'\s*(pub(\([^)]*\))?\s+)?(const\s+)?(unsafe\s+)?(async\s+)?fn\s+(\w+)',L[i])
        if m:
          depth=0;started=False;j=i
          while j<len(L):
            s=re.sub(r'"(\\.|[^"\\])*"','""',L[j]); s=re.sub(r"'(\\.|[^'\\])'","''",s); s=s.split('//')[0]
            for c in s:
              if c=='{': depth+=1;started=True
              elif c=='}': depth-=1
            if started and depth==0: break
            if not started and s.rstrip().endswith(';'): break
            j+=1
          n=j-i+1
          if started: res.append((n,p,i+1,m.group(6)))
          i+=1
        else: i+=1
res.sort(reverse=True)
for r in res[:int(os.environ.get('N','30'))]: print(*r)
