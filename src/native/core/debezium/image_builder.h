// Filling a RowImage (flattened fields plus the image's JSON text) with reused storage.
#pragma once

#include <string_view>

#include "debezium/change_event.h"

namespace cdc {
namespace decoding {

// Appends Fields to a RowImage, reusing the Field objects (and their string capacity) left from
// the previous message.
class ImageBuilder {
 public:
  explicit ImageBuilder(RowImage& image) : image_(image) {
    image_.present = true;
    image_.json.clear();
  }
  Field& add(std::string_view path) {
    if (used_ < image_.fields.size()) {
      Field& f = image_.fields[used_++];
      f.path.assign(path.data(), path.size());
      f.value.clear();
      f.is_null = false;
      f.is_unavailable = false;
      f.type = FieldType::string;
      return f;
    }
    image_.fields.emplace_back();
    ++used_;
    Field& f = image_.fields.back();
    f.path.assign(path.data(), path.size());
    return f;
  }
  void finish() { image_.fields.resize(used_); }
  RowImage& image() { return image_; }

 private:
  RowImage& image_;
  size_t used_ = 0;
};

inline void reset_image(RowImage& image) {
  image.present = false;
  image.json.clear();
  image.fields.clear();
}

}  // namespace decoding
}  // namespace cdc
