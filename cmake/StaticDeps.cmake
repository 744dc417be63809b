# CDC_STATIC_DEPS=ON (npm run package): the dependencies of the prebuilt addon.
#
# librdkafka, hiredis, OpenSSL (Redis TLS uses it too) and librdkafka's own dependencies (lz4, zstd, sasl2,
# zlib) are linked from
# the build machine's static archives (Debian's -dev packages ship them); glibc's own libraries (m, dl,
# pthread, rt) stay dynamic. Cyrus SASL is replaced by src/native/prebuilt/no_cyrus_sasl.c (why: there):
# librdkafka needs it for GSSAPI only. Debian ships no libsimdjson.a, so simdjson stays a shared library that
# scripts/package puts beside the addon (the addon's RPATH is $ORIGIN); a libsimdjson.a found on the
# machine is used instead.
#
# Defines the interface target cdc_deps (what cdc_core links) and cdc_static_addon(target) (link flags
# for the addon: static symbols hidden, RPATH $ORIGIN).

set(cdc_glibc_libraries m dl pthread rt c)
set(cdc_debian_package_rdkafka++ librdkafka-dev)
set(cdc_debian_package_rdkafka librdkafka-dev)
set(cdc_debian_package_lz4 liblz4-dev)
set(cdc_debian_package_zstd libzstd-dev)
set(cdc_debian_package_sasl2 libsasl2-dev)
set(cdc_debian_package_ssl libssl-dev)
set(cdc_debian_package_crypto libssl-dev)
set(cdc_debian_package_z zlib1g-dev)
set(cdc_debian_package_hiredis libhiredis-dev)

# pkg-config's --static list names a library again wherever one needs it; a static link wants each
# archive once, after everything that uses it: keep the last occurrence of each name.
# OpenSSL first: librdkafka's list names it again, in the order its own dependencies need.
set(cdc_static_names ${OPENSSL_STATIC_LIBRARIES} ${RDKAFKA_STATIC_LIBRARIES} ${RDKAFKA_C_STATIC_LIBRARIES}
                     ${HIREDIS_STATIC_LIBRARIES})
list(REVERSE cdc_static_names)
list(REMOVE_DUPLICATES cdc_static_names)
list(REVERSE cdc_static_names)

set(cdc_static_link "")
set(cdc_static_missing "")
foreach(name IN LISTS cdc_static_names)
  if(name IN_LIST cdc_glibc_libraries)
    list(APPEND cdc_static_link ${name})
    continue()
  endif()
  if(name STREQUAL "sasl2")
    add_library(cdc_no_cyrus_sasl STATIC ${CMAKE_CURRENT_LIST_DIR}/../src/native/prebuilt/no_cyrus_sasl.c)
    list(APPEND cdc_static_link cdc_no_cyrus_sasl)
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "CDC_STATIC_ARCHIVE_${name}" archive_var)
  find_library(${archive_var} NAMES lib${name}.a
               HINTS ${RDKAFKA_STATIC_LIBRARY_DIRS} ${RDKAFKA_C_STATIC_LIBRARY_DIRS} ${HIREDIS_STATIC_LIBRARY_DIRS}
                     ${OPENSSL_STATIC_LIBRARY_DIRS})
  if(${archive_var})
    list(APPEND cdc_static_link ${${archive_var}})
  else()
    set(package ${cdc_debian_package_${name}})
    list(APPEND cdc_static_missing "lib${name}.a (${package})")
  endif()
endforeach()
if(cdc_static_missing)
  list(JOIN cdc_static_missing ", " cdc_static_missing_text)
  message(FATAL_ERROR "cdc-cache: CDC_STATIC_DEPS=ON needs static archives that are missing: ${cdc_static_missing_text}. "
                      "Install the -dev packages named (scripts/setup does).")
endif()

find_library(CDC_STATIC_ARCHIVE_simdjson NAMES libsimdjson.a HINTS ${SIMDJSON_LIBRARY_DIRS})
add_library(cdc_deps INTERFACE)
target_include_directories(cdc_deps INTERFACE ${RDKAFKA_INCLUDE_DIRS} ${RDKAFKA_C_INCLUDE_DIRS}
                                              ${HIREDIS_INCLUDE_DIRS} ${SIMDJSON_INCLUDE_DIRS} ${OPENSSL_INCLUDE_DIRS})
target_compile_options(cdc_deps INTERFACE ${RDKAFKA_CFLAGS_OTHER} ${HIREDIS_CFLAGS_OTHER} ${SIMDJSON_CFLAGS_OTHER})
if(CDC_STATIC_ARCHIVE_simdjson)
  target_link_libraries(cdc_deps INTERFACE ${cdc_static_link} ${CDC_STATIC_ARCHIVE_simdjson})
else()
  target_link_libraries(cdc_deps INTERFACE ${cdc_static_link} PkgConfig::SIMDJSON)
endif()
message(STATUS "cdc-cache: static dependencies: ${cdc_static_link}")
# What scripts/package collects the licences of.
list(FILTER cdc_static_link INCLUDE REGEX "^/")
list(JOIN cdc_static_link "\n" cdc_static_archives_text)
file(WRITE ${CMAKE_BINARY_DIR}/static-archives.txt "${cdc_static_archives_text}\n")

function(cdc_static_addon target)
  # --exclude-libs: the archives' symbols (OpenSSL's above all) stay private to the addon, so they can
  # clash neither with Node's own OpenSSL nor with another addon's copy.
  target_link_options(${target} PRIVATE -Wl,--exclude-libs,ALL -Wl,--as-needed)
  set_target_properties(${target} PROPERTIES BUILD_RPATH "\$ORIGIN" INSTALL_RPATH "\$ORIGIN")
endfunction()
