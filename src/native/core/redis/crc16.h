// Redis Cluster's hash slots: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key, or
// of its {hashtag} (the bytes between the first '{' and the first '}' after it, when not empty),
// modulo 16384.
#pragma once

#include <cstdint>
#include <string_view>

namespace cdc {

inline constexpr int kClusterSlots = 16384;

uint16_t crc16(std::string_view bytes);
// The part of `key` that is hashed: its hashtag, or the whole key.
std::string_view hashed_part(std::string_view key);
int key_hash_slot(std::string_view key);

}  // namespace cdc
