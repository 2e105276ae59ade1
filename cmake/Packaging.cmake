# Installing and packaging (issue 9): `cmake --install` puts the programs, the
# man pages, the systemd unit with its sysusers.d and tmpfiles.d files, the
# environment file and the documentation in place; `cpack -G DEB` makes the
# Debian package of the same files.  Included from the top-level CMakeLists.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb -j
#   (cd build-deb && cpack -G DEB)          # build-deb/vabill_VERSION-1_ARCH.deb
#
# Where things go (prefix /usr; /usr/local gives /usr/local/... and
# /usr/local/etc/default/vabilld):
#   bin/vabilld, bin/vabill        both in bindir: the daemon is also run by
#                                  hand (sandboxes, tests), so it stays on
#                                  every user's PATH
#   share/man/man8/vabilld.8.gz, share/man/man1/vabill.1.gz
#   lib/systemd/system/vabilld.service, lib/sysusers.d/vabill.conf,
#   lib/tmpfiles.d/vabill.conf
#   /etc/default/vabilld           (GNUInstallDirs' sysconfdir: /etc for /usr)
#   share/doc/vabill/              README, API, OPERATIONS, SEND, DECISIONS

include(GNUInstallDirs)

set(VABILL_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where vabilld.service is installed, relative to the prefix or absolute")
set(VABILL_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d file is installed, relative to the prefix or absolute")
set(VABILL_TMPFILESDIR "lib/tmpfiles.d" CACHE STRING
    "Where the tmpfiles.d file is installed, relative to the prefix or absolute")
set(VABILL_MAINTAINER "vabill maintainers <maintainers@vabill.example>" CACHE STRING
    "Maintainer field of the Debian package")

# The environment file: ${sysconfdir}/default.  GNUInstallDirs makes the
# sysconfdir of prefix /usr the absolute /etc; keep it relative otherwise so
# `cmake --install --prefix DIR` stays inside DIR.
if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}")
    set(VABILL_DEFAULT_DEST "${CMAKE_INSTALL_SYSCONFDIR}/default")
else()
    set(VABILL_DEFAULT_DEST "${CMAKE_INSTALL_FULL_SYSCONFDIR}/default")
endif()
set(VABILL_DEFAULT_FILE "${CMAKE_INSTALL_FULL_SYSCONFDIR}/default/vabilld")

# The unit names /usr/bin/vabilld and /etc/default/vabilld; other prefixes
# get their own paths written in.
set(_pkg ${CMAKE_SOURCE_DIR}/packaging)
set(_out ${CMAKE_BINARY_DIR}/packaging)
file(READ ${_pkg}/vabilld.service _unit)
string(REPLACE "/usr/bin/vabilld" "${CMAKE_INSTALL_FULL_BINDIR}/vabilld" _unit "${_unit}")
string(REPLACE "/etc/default/vabilld" "${VABILL_DEFAULT_FILE}" _unit "${_unit}")
file(CONFIGURE OUTPUT ${_out}/vabilld.service CONTENT "${_unit}" @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pkg}/vabilld.service)

# Man pages, compressed as Debian wants them (gzip -9n: no name, no time, so
# the bytes do not change from one build to the next).
set(_man_gz "")
foreach(page vabilld.8 vabill.1)
    add_custom_command(OUTPUT ${_out}/${page}.gz
        COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/man/${page} > ${_out}/${page}.gz
        DEPENDS ${CMAKE_SOURCE_DIR}/man/${page}
        COMMENT "Compressing man page ${page}" VERBATIM)
    list(APPEND _man_gz ${_out}/${page}.gz)
endforeach()
add_custom_target(manpages ALL DEPENDS ${_man_gz})

install(TARGETS vabilld vabill RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${_out}/vabilld.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${_out}/vabill.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${_out}/vabilld.service DESTINATION ${VABILL_SYSTEMD_UNITDIR})
install(FILES ${_pkg}/vabill.sysusers DESTINATION ${VABILL_SYSUSERSDIR} RENAME vabill.conf)
install(FILES ${_pkg}/vabill.tmpfiles DESTINATION ${VABILL_TMPFILESDIR} RENAME vabill.conf)
# 0640: it may hold a database password (the package's postinst gives it
# group vabill).
install(FILES ${_pkg}/vabilld.default DESTINATION ${VABILL_DEFAULT_DEST} RENAME vabilld
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/API.md
              ${CMAKE_SOURCE_DIR}/docs/OPERATIONS.md ${CMAKE_SOURCE_DIR}/docs/SEND.md
              ${CMAKE_SOURCE_DIR}/docs/DECISIONS.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- the Debian package (cpack -G DEB) ----
file(WRITE ${_out}/conffiles "${VABILL_DEFAULT_FILE}\n")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vabill)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "vabill")
set(CPACK_PACKAGE_CONTACT "${VABILL_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Espay-compatible virtual-account billing service")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# absolute destinations (/etc/default) land in the package, not on this host
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VABILL_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The extended description: CPack indents every line and turns empty lines
# into " ."; the first line of the control field is the summary above.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"vabilld takes batches of up to 500 invoices from partners over HTTP
(POST /rest/virtualaccount/sendinvoice), checks their SHA-256 signatures,
stores the accepted invoices durably in SQLite or PostgreSQL and allocates
one virtual-account number per bank channel. Banks inquire and pay on the
numbers, partners are notified of payments and can check or close their
invoices. Retries never create anything twice.

vabill is the command line: communities, banks, invoices, notifications,
signatures, a resumable batch client for CSV or JSON invoice files, and
clients that play the bank and the partner.

The package installs a hardened systemd unit, vabilld.service, running as
the vabill system user with its store in /var/lib/vabill.")
# Depends: the shared libraries' packages, found by dpkg-shlibdeps (dpkg-dev),
# and adduser for postinst when systemd-sysusers is absent.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3, postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pkg}/debian/postinst ${_pkg}/debian/prerm ${_pkg}/debian/postrm ${_out}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# A package for /usr/local would put the unit where Debian does not look
# for packaged units and the environment file under /usr/local/etc.
file(WRITE ${_out}/CPackProjectConfig.cmake
"if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL \"/usr\")
    message(FATAL_ERROR \"vabill: the Debian package needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr (this one has \${CPACK_PACKAGING_INSTALL_PREFIX})\")
endif()
")
set(CPACK_PROJECT_CONFIG_FILE ${_out}/CPackProjectConfig.cmake)
include(CPack)
