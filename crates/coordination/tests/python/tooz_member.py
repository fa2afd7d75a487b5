"""A real Python tooz member, driven line by line from the Rust interop tests.

Usage: tooz_member.py URL MEMBER_ID GROUP WEIGHT

Joins GROUP the way Ceilometer does (start(start_heart=True), then
join_partitioned_group) and answers one command per stdin line with one stdout line:
  ring     run_watchers(), then {"nodes": {member: weight}} from the Partitioner's ring
  members  {"members": [...]} from get_members() (which prunes dead members)
  owner K  {"owner": member} owning key K in the Partitioner
  stop     coordinator.stop(): leave the group and delete the beat key, then exit
"""
import json
import sys

from tooz import coordination


def main():
    url, member, group, weight = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    coord = coordination.get_coordinator(url, member.encode())
    coord.start(start_heart=True)
    part = coord.join_partitioned_group(group, weight=weight)
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "ring":
            coord.run_watchers()
            nodes = {n.decode(): w for n, w in part.ring.nodes.items()}
            print(json.dumps({"nodes": nodes}), flush=True)
        elif cmd[0] == "members":
            ms = coord.get_members(group).get()
            print(json.dumps({"members": sorted(m.decode() for m in ms)}), flush=True)
        elif cmd[0] == "owner":
            owners = part.members_for_object(cmd[1])
            print(json.dumps({"owner": sorted(o.decode() for o in owners)}), flush=True)
        elif cmd[0] == "stop":
            coord.stop()
            print("OK", flush=True)
            return
        else:
            print(json.dumps({"error": "unknown command %r" % cmd[0]}), flush=True)


if __name__ == "__main__":
    main()
