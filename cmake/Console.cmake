# The web console (console/, issue 9) embedded in vabilld: every file there
# becomes a byte array in ${CMAKE_BINARY_DIR}/console_assets.c, regenerated
# when a file changes (or one is added: the glob is checked at build time),
# behind console_asset_find() of src/console_assets.h.  Only vabilld links
# it; vabillcore and the command line never see the files.
file(GLOB_RECURSE CONSOLE_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/console/*)
list(FILTER CONSOLE_FILES EXCLUDE REGEX "/\\.|~$")  # editors' hidden and backup files
string(JOIN "|" CONSOLE_FILE_ARG ${CONSOLE_FILES})
set(CONSOLE_ASSETS_C ${CMAKE_BINARY_DIR}/console_assets.c)
add_custom_command(OUTPUT ${CONSOLE_ASSETS_C}
    COMMAND ${CMAKE_COMMAND} -DROOT=${CMAKE_SOURCE_DIR}/console "-DFILES=${CONSOLE_FILE_ARG}"
            -DOUT=${CONSOLE_ASSETS_C} -P ${CMAKE_SOURCE_DIR}/cmake/Embed.cmake
    DEPENDS ${CONSOLE_FILES} ${CMAKE_SOURCE_DIR}/cmake/Embed.cmake
    COMMENT "Embedding console/ in vabilld"
    VERBATIM)
target_sources(vabilld PRIVATE ${CONSOLE_ASSETS_C})
