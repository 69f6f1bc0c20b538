"""Order per key for ``gateway.intake`` drains: claims and parked items in Redis.

A key (a digest of a handler's ``order_key``) is CLAIMED by whoever applies its items now: a
drain (its run token) or a failed item's retry job (``retry_owner``). Items of a claimed
key that reach another drain are PARKED in the key's list, in arrival order, and handed back
to the owner when it releases the key. A drain's claim lapses with the drain's lease (its
worker was killed), a retry's when its TTL ends; ``recover`` returns the parked items of a
lapsed claim to the head of the queue.
"""

from __future__ import annotations

import redis

# A drain's claim is renewed each round, and lapses with its lease anyway: the TTL only
# removes what nobody releases.
CLAIM_SECONDS = 120
RETRY_OWNER = "retry:"  # then the item id: a retry job's claim (no lease, kept to its TTL)

# Whether claim ``c`` still holds its key. A drain's lives only as long as its lease: once
# the sweep could see the drain is dead, its keys must not hold back the recovered batch
# (that waited the whole CLAIM_SECONDS after every kill -9). A retry has no lease.
_LIVE = f"""
local function live(c, lease_prefix)
  if not c then return false end
  return c:sub(1, {len(RETRY_OWNER)}) == '{RETRY_OWNER}'
    or redis.call('EXISTS', lease_prefix .. c) == 1
end
"""
# ARGV: claim prefix, park prefix, owner, ttl, lease prefix, then (digest, entry) pairs. Per
# pair '1' when parked (held by another live owner, or parked items of a lapsed claim wait),
# else claimed.
_CLAIM = _LIVE + """
local out, i = {}, 6
while i <= #ARGV do
  local d, raw, parked = ARGV[i], ARGV[i + 1], '0'
  if d ~= '' then
    local c = redis.call('GET', ARGV[1] .. d)
    if c ~= ARGV[3] and (live(c, ARGV[5]) or redis.call('EXISTS', ARGV[2] .. d) == 1) then
      redis.call('RPUSH', ARGV[2] .. d, raw)
      parked = '1'
    else
      redis.call('SET', ARGV[1] .. d, ARGV[3], 'EX', ARGV[4])
    end
  end
  out[#out + 1] = parked
  i = i + 2
end
return out
"""
# KEYS[1]: the owner's processing list (popped items stay durable there). ARGV: claim prefix,
# park prefix, owner, ttl, digests. For each key the owner holds: its parked items are moved
# to the processing list and returned as (digest, entry) pairs; no parked item: released.
_RELEASE = """
local out = {}
for i = 5, #ARGV do
  local d = ARGV[i]
  if redis.call('GET', ARGV[1] .. d) == ARGV[3] then
    local items = redis.call('LRANGE', ARGV[2] .. d, 0, -1)
    if #items > 0 then
      redis.call('DEL', ARGV[2] .. d)
      redis.call('EXPIRE', ARGV[1] .. d, ARGV[4])
      for _, v in ipairs(items) do
        redis.call('RPUSH', KEYS[1], v)
        out[#out + 1] = d
        out[#out + 1] = v
      end
    else
      redis.call('DEL', ARGV[1] .. d)
    end
  end
end
return out
"""
# KEYS: park list, its claim, the queue; ARGV: lease prefix. A lapsed claim's parked items go
# back to the head.
_GIVE_BACK_PARKED = _LIVE + """
if live(redis.call('GET', KEYS[2]), ARGV[1]) then return 0 end
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[3], 'RIGHT', 'LEFT') do n = n + 1 end
return n
"""


def claim(r: redis.Redis, k: dict, owner: str, pairs: list[tuple[str, bytes]]) -> list[bool]:
    """Claim each pair's key for ``owner`` or park its entry; True per parked entry."""
    if not any(digest for digest, _ in pairs):
        return [False] * len(pairs)
    args = [k["claim"], k["park"], owner, CLAIM_SECONDS, k["lease"]]
    for digest, raw in pairs:
        args += [digest, raw]
    return [flag == b"1" for flag in r.eval(_CLAIM, 0, *args)]


def release(r: redis.Redis, k: dict, owner: str, digests: set[str], processing: str
            ) -> list[tuple[str, bytes]]:
    """Release ``owner``'s keys; returns what was parked behind them (now the owner's)."""
    if not digests:
        return []
    flat = r.eval(_RELEASE, 1, processing, k["claim"], k["park"], owner, CLAIM_SECONDS,
                  *sorted(digests))
    return [(flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2)]


def retry_owner(item_id: str) -> str:
    """The owner name of a failed item's retry job, which holds the item's key."""
    return RETRY_OWNER + item_id


def hand_over(r: redis.Redis, k: dict, digest: str, owner: str, seconds: int) -> None:
    """Give a key to a retry job (``owner``) for as long as its retries may take."""
    r.set(k["claim"] + digest, owner, ex=seconds)


def park_first(r: redis.Redis, k: dict, digest: str, raws: list[bytes]) -> None:
    """Park entries at the HEAD of their key (they are older than anything parked there)."""
    r.lpush(k["park"] + digest, *reversed(raws))


def recover_parked(r: redis.Redis, k: dict) -> int:
    """Put the parked items of lapsed claims back at the head of the queue."""
    moved = 0
    for name in r.scan_iter(match=k["park"] + "*", count=100):
        digest = name.decode()[len(k["park"]):]
        moved += int(r.eval(_GIVE_BACK_PARKED, 3, name, k["claim"] + digest, k["queue"],
                            k["lease"]))
    return moved


def parked_waiting(r: redis.Redis, k: dict) -> bool:
    """True when some key has parked items."""
    return next(r.scan_iter(match=k["park"] + "*", count=100), None) is not None
