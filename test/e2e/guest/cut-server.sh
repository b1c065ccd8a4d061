#!/bin/sh
# Run by `nc -ll -p 8083 -e` in the e2e guest: reads one HTTP request, answers 200 with the full module's
# Content-Length, sends half of the body and hangs up (a connection cut mid-download).
cr=$(printf '\r')
while IFS= read -r line; do
  case "$line" in "" | "$cr") break ;; esac
done
f=/e2e/modules/good.ko
size=$(wc -c <"$f")
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$size"
head -c $((size / 2)) "$f"
