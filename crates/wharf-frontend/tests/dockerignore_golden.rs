//! Golden answers from Docker itself: each case below was run through
//! moby/patternmatcher (`ignorefile.ReadAll`, `New`,
//! `MatchesOrParentMatches`, with current Go `filepath.Match` validation)
//! and the `docker` field holds its verdict per path (`1` excluded). The
//! cases are random ignore files over the characters that matter to the
//! matcher (avoiding the documented regex leaks), plus realistic files.
//! `REJECTED` lists files Docker refuses to load.

use wharf_frontend::dockerignore::DockerIgnore;

const CASES: &str = r####"{"text": "[^a]*a", "paths": ["ab/#a/\\", "?/x", "x/b", "ab/?", "*", "a", "!a/a?/#a/b", "aa/[/!a"], "docker": "00000010"}
{"text": ".*\na", "paths": ["?", "!a", "a b/x/]", "b-a", "x", "a/a b/b-a", "\\/aa/b", "ba/#a/["], "docker": "00000100"}
{"text": "*!\n^ / ^a*\na\n b]//\n#.***/[a-b]", "paths": ["#a", "ab", "a", "!a/!a/[", "ba/a.b/\\/a", "x/\\/a.b/ba", "a.b", "a b/#a/\\"], "docker": "00100000"}
{"text": "?]\naa****", "paths": ["]/\\/ba/a", "a/aa/a?", "x/b-a", "aa/[/ab", "?/a/*", "]/a/*", "b/b-a/ba/a?", "a b/?/*"], "docker": "00010000"}
{"text": "**#a\n*b?\n./*[a[^a]]", "paths": ["!a/]", "\\", "#a/b-a", "b-a/b", "!a/!a/b-a/a?", "a?/ab/ba/b", "ab", "a b/]"], "docker": "00100000"}
{"text": "*]a[^a]]\n/?\n?]ab b", "paths": ["#a", "!a/]/?", "b/*", "x/b/!a/!a", "?/ab/a b", "?/a/a?/*", "*/b", "a?/!a/a?/a"], "docker": "00111110"}
{"text": "**/[^a][a-b]\n[^a]\n..\na*/a/[^a]**/", "paths": ["a/#a/#a/b-a", "b-a/a/!a/[", "x/aa/?", "aa/[", "[/aa/a.b/ab", "b/b-a", "a?/aa/]", "a?/b-a/#a/]"], "docker": "11101101"}
{"text": "??*b !/\n^[[a-b]\n /", "paths": ["a?/]", "!a", "?/\\/a b/\\", "[", "#a/a?/x", "aa/#a/b/a b", "ab/x/b/a.b", "*"], "docker": "00010000"}
{"text": "*-**/.*\n[^a]*b/[[^a]/\n^.#b\nb/\na**[^a]", "paths": ["[/b/?/a?", "b/b-a/a.b/b-a", "aa/\\/a/\\", "\\/aa/[", "b-a/]/?", "ab/ba", "x/#a/?", "#a"], "docker": "01100100"}
{"text": "bbb\n[^a]\n **/\\* a", "paths": ["[/ba/aa", "]", "!a", "#a/]/\\", "[/b-a/?", "x/a?", "]/[/?", "ba/\\/?/a?"], "docker": "11001110"}
{"text": ".?#]*a\n ?\n]#/\n[^a]bba", "paths": ["b/*/[", "a b/aa", "!a/*/!a", "?", "#a/a b/?", "\\/a b/[", "[/aa", "b/\\/a.b"], "docker": "10010111"}
{"text": "]\n^\\^./^\nb**/[^a] ", "paths": ["a/x/?/a", "a b/x", "ba/x/a/b", "aa", "b/ba", "a b/b-a/b-a", "?/b/a?", "?/\\/*"], "docker": "00100000"}
{"text": "///\n]", "paths": ["x/x/*", "]", "x/!a/a/!a", "a.b/aa/*/[", "ab/\\/x", "\\/#a/[/a?", "#a", "x/x"], "docker": "01000000"}
{"text": "/.a#\\*-/\n]\n!b\n/?-/\nb/", "paths": ["ab/#a/ba", "?/]/b", "a?/a?/#a", "aa/a b", "a.b/b", "[/*", "ba/ab/aa", "a/#a"], "docker": "00000000"}
{"text": "a/\\**[^a]/b\n\\*b.\na", "paths": ["?/*/[", "ab/!a/b/[", "]", "#a/]", "a b/b", "b-a/\\", "b-a/a?", "#a/ab/a.b"], "docker": "00000000"}
{"text": "a]\n?\n#/\n\\*/.*\n]", "paths": ["#a/#a", "*", "x/x/[/b", "[", "?/ba", "ba/aa/a?", "*/x", "x/b/b/!a"], "docker": "01111011"}
{"text": "!^\nba-\\*\nb?^a\n*/?", "paths": ["b-a/a/ba/\\", "\\", "a?/a?/ab", "#a/a b/ab", "[", "ba/\\", "ba/aa/b-a", "a/*"], "docker": "10000101"}
{"text": "?\n\\?/^\nb]\n*]#\\**^", "paths": ["aa/!a/!a", "\\", "!a/a.b/?/a?", "#a", "]/aa/\\/[", "b/aa", "?/?/a?", "a.b/b"], "docker": "01001110"}
{"text": "!#\n**\\*\n\\[^a]**/a\n#b**b**//", "paths": ["?/a/a/ba", "a?/!a/x", "a.b/a", "*/#a/#a/?", "a.b/]/?/[", "aa/[/\\", "aa/[", "b"], "docker": "00010000"}
{"text": "#/[^a]/.#\n/[^a]b-\\*\n /a\n^\\*b\nb", "paths": ["\\/a b/b-a/[", "!a", "ab/a.b", "ba", "a", "b/ba", "!a/a.b/b/a.b", "ab/]/#a/a b"], "docker": "00001100"}
{"text": "\\* a] \n-****/\n[^a]*", "paths": ["a/\\", "a?/b-a/#a", "a?/]", "b-a", "!a", "ab/ba", "#a", "?/?/a.b"], "docker": "00011011"}
{"text": "]\n.\n#ba^ a\n\\/\\*", "paths": ["[/[/[", "#a/b-a/ba/a?", "a/?/a/a", "[/]", "*/b-a/aa", "b-a", "x/b/]/ba", "!a/a.b"], "docker": "00000000"}
{"text": "*^b**/\\*\n* \n!b\nb/#", "paths": ["]", "*/]", "]/a.b/]/a?", "b", "x/ab", "ba/#a/a b/a?", "]/a.b/?", "*/a?/a/\\"], "docker": "11101111"}
{"text": " \n**^[^a]*-a\n//  ?a", "paths": ["a b", "[", "x/b-a/[", "a/a", "a b", "ba/a b/*/aa", "\\", "]/ab/?/#a"], "docker": "00000100"}
{"text": "##\n\\*\n**!", "paths": ["a b/x/a/[", "x/ab/a", "a.b/a?/a/\\", "b-a/a?", "ba/]/a.b/a", "a b/a/ab", "a?/a b/ba/b", "]/a/b-a"], "docker": "00000000"}
{"text": "]\n[[]!\\***/\n[^a]*a", "paths": ["[/*", "ab/#a/x", "#a/#a/b", "?/b-a/a.b/#a", "a.b", "[", "*", "!a/ab/a?/["], "docker": "00100001"}
{"text": "b-.\n]a[^a]-\\*\n![^a]/\na\n a.**//", "paths": ["x/a", "ab/!a/?", "a/ab/]", "\\/a?", "]", "a?/ab", "ba/?/a.b/#a", "a b"], "docker": "00100000"}
{"text": "****\\[a-b]**b \n**!*?\n*/ab[^a]^[a-b]", "paths": ["*/ab", "aa/a.b", "!a", "b-a/!a/a", "!a/?/x/a", "a?/ab/x", "a b/[", "aa/?"], "docker": "00111000"}
{"text": "///a/\na.**a*", "paths": ["b-a", "!a/ab/a.b", "ba/b-a/ba/[", "x", "b/[/a b/ab", "a/a b/x/[", "x", "b-a"], "docker": "00000100"}
{"text": "\\*\n\\*b#.\n/", "paths": ["ab", "*", "ab", "!a/a?/!a", "?/]/a b", "ab/x/ba", "a b/ab/[", "ab/a b/a"], "docker": "01000000"}
{"text": "#/?\n[a-b]\n-**\\*", "paths": ["a.b/#a", "a b/ba", "]/?/#a/?", "\\", "a.b/*/ab/a?", "aa", "a?/!a/?", "!a/a?"], "docker": "00000000"}
{"text": "[a-b]\n**- \n-**/b", "paths": ["a?/b-a/!a/x", "!a/x", "b/x/ab/[", "a.b/!a/b/[", "!a/b/\\/a", "#a", "a?", "?"], "docker": "00100000"}
{"text": "?\n-.b][a-b][^a]\n[a-b]b-^b[^a].", "paths": ["aa/]/x", "b/a?/a?", "b-a/#a/aa/a", "!a/a?/a.b/a?", "*/a b/\\/ba", "ba/[/*/a.b", "\\/a?/ab/aa", "!a"], "docker": "01001010"}
{"text": "/ [^a]/\n^**/b****", "paths": ["\\", "\\/!a/a/x", "a.b/a?", "b-a", "a?", "aa/x", "a/ba/#a/b-a", "ab/x"], "docker": "11010010"}
{"text": "#\n [a-b] [a-b]\n?", "paths": ["x", "*", "ab/*", "*", "!a/?", "\\/#a/a b/ba", "a/*/?/b", "*/b/a.b"], "docker": "11010111"}
{"text": "a\n**?\n^\\**/*\n#.#\n.*", "paths": ["aa/b-a/#a", "ab/ab/!a", "[/a b/\\", "aa/]/#a", "a b", "[", "a", "b/a?/aa"], "docker": "00110111"}
{"text": "b#/*#/\n .a**/]!\n^b![^a].b\n.\na", "paths": ["ba/ab/b", "a", "aa/?/a.b/x", "b-a", "b/b-a/]", "*/*", "?", "b-a/]/#a"], "docker": "01000000"}
{"text": "a![a-b]\n[a-b]\n/\na[a-b]*/^**/\n]", "paths": ["b-a/!a", "a.b/!a/a b", "x/ab/a?", "b/a b/x", "!a/x/a b/ba", "\\/a/]/x", "b", "?/x"], "docker": "00010010"}
{"text": "[a-b]* **/a*\na!\na ^", "paths": ["*/*/b-a/*", "#a/a", "*/ab", "!a/!a/b/a.b", "a?/[", "a b/aa/ab/a", "?/]/ab", "a b/[/a b/b-a"], "docker": "00000101"}
{"text": "**/b \na/b\n^\n!!a", "paths": ["b-a/[/ab/a b", "?", "a/[/a", "a?/[", "#a/x", "a?/aa/[/a?", "a/[/?", "aa/b-a"], "docker": "00000000"}
{"text": "[a-b]\n[^a]/", "paths": ["b-a/b/[", "\\/b-a/b/#a", "a?/[/b-a/b-a", "[/?", "b-a/*/*/x", "b/[", "a b", "aa"], "docker": "01010100"}
{"text": "*\\*\n!a.\n-\n*[^a]*[^a]*", "paths": ["ab/a/a b/!a", "]/aa", "b", "*/a b", "aa", "ba", "?/b-a", "ba"], "docker": "11010010"}
{"text": "[[a-b]*a", "paths": ["a b/*", "#a/aa/[/a.b", "b/]/aa", "aa", "\\", "ba/[", "x/b-a", "[/?/]/a b"], "docker": "00010100"}
{"text": "*/**/.*\n\\-\n[^a]\n#b-*\n#^-^**/", "paths": ["a?/#a/a.b/aa", "\\", "]/ab/#a/!a", "#a/b-a/]", "ba/ab/a?", "aa/*", "b", "ab/a.b/b-a"], "docker": "01100010"}
{"text": " \\*\n**/?bb\\- ", "paths": ["b-a/#a/aa/a.b", "a?/x", "*/b-a/*/aa", "#a/a/b-a/a b", "[", "*/]/a", "!a/\\/a?", "?"], "docker": "00100100"}
{"text": "a/?\nb^*!b ", "paths": ["ba/a.b/a.b", "[/[/ba", "*/aa/b-a/]", "a.b/*", "a b/ba/a", "aa/x", "*/?", "a/x"], "docker": "00000001"}
{"text": "/\n*[^a]/a*", "paths": ["a.b/]/b", "a?/?/a?/aa", "b/aa/a", "ba/b", "\\/ba", "ba/a b", "a.b/x/]/ab", "x"], "docker": "00100000"}
{"text": "/?b-**\n\\*\\.\n\\*", "paths": ["#a/]", "#a/a?/a.b/x", "x", "a.b", "aa", "a.b/a/ab", "#a", "b"], "docker": "00000000"}
{"text": "a\n**![^a]**/*/\n[a-b]b\n^-b", "paths": ["x/[/a.b", "a?/a", "[/a?/ba/a.b", "?/*/]", "]/\\/#a/#a", "x/[/a.b/?", "]/b-a/a?", "ab/[/["], "docker": "00000001"}
{"text": "?", "paths": ["?/b/?/a", "ba/a.b/]/ba", "a.b", "a?", "aa", "aa/a?", "a?/*/b-a", "a.b/[/aa"], "docker": "10000000"}
{"text": "a**//**\n**/*[^a]", "paths": ["a b/b-a/b/#a", "*/#a", "ba/b-a/b-a/!a", "?/[/#a", "b/]", "#a/b-a", "b-a/#a/ab", "a b"], "docker": "11011011"}
{"text": "[^a]**/", "paths": ["[/[", "?/aa", "*/a b/?/\\", "a/!a/ba/b", "a?/\\/#a", "ba", "b-a/ba", "a/\\/!a/a"], "docker": "11100110"}
{"text": "b ^-\na\n\\?\nb", "paths": ["a.b/b-a/*", "x", "\\", "ba/?", "x/?", "ba/ab", "[/b/b-a/x", "x"], "docker": "00000000"}
{"text": "b?b.*-*\n/ [^a]", "paths": ["x/?/aa/a.b", "b/]", "#a", "?/b", "a?/\\", "a?/a?/aa/ab", "a/ab", "ab/*"], "docker": "11010000"}
{"text": "b\n[^a]]/!*\n*.!**/**-^", "paths": ["a b/a b/#a", "aa", "b-a/ab", "b-a/b-a/a b", "a b/a.b/]", "#a/ba", "ab/a.b", "#a/?/?/x"], "docker": "00000000"}
{"text": "?][a-b]/*/**\n.bb\nba/[^a]*?", "paths": ["ba/#a/\\", "a", "b-a/b/aa/b-a", "x/\\", "a b/*/?/!a", "a/b", "b-a/x/*", "ab/b/\\"], "docker": "10000000"}
{"text": " \\*****\n[^a]\\\\*#?^!\n/b/ b**a\n^**//-]", "paths": ["a/a.b", "ab/b-a/*", "?/a b/#a", "[/ba/!a/!a", "#a/b-a/*", "]/\\/aa/?", "a.b/x", "b/aa/!a/ab"], "docker": "00000000"}
{"text": "#[a-b]^**/*****\n\\*/\nb**\n**#/\na\\!!**", "paths": ["\\/b/b-a", "ba/b-a/?/aa", "ab/\\", "ba", "x/a", "]", "]/a?", "b/#a"], "docker": "01010001"}
{"text": "-]-\na\n**//a**/", "paths": ["]/a.b/[", "\\/?/!a/ba", "#a/]", "[/ba", "[", "]", "?/\\", "aa/!a/!a"], "docker": "10000001"}
{"text": "ba\n**a", "paths": ["*/a?/[", "b/!a/!a/\\", "?", "ab", "!a/\\", "*/x/]", "x", "ba/["], "docker": "01001001"}
{"text": "**/\\*!a^*\n*aa\n#b\n?[a-b]**/]b\\*", "paths": ["b/[/?/x", "#a/ba/[", "b-a/!a/a?", "b-a/ab/ab", "?/a b", "a/a b", "?/a b/ba/a.b", "aa"], "docker": "00000001"}
{"text": "[^a]\na[^a]a?**/!b\n\\\\*?**/", "paths": ["\\/[/aa", "b/!a/aa/?", "\\/\\/ab", "x/a/a", "b-a/a?/?", "ab", "ab", "a b/*/ba/!a"], "docker": "11110000"}
{"text": "**[^a]\nab/", "paths": ["b-a/a/b/\\", "[/]", "[/a b", "b", "?/x/aa/#a", "\\", "*/?", "ba"], "docker": "11111110"}
{"text": "*!**/[a-b]\n\\***^**/*^\na[a-b]\nab**b#]", "paths": ["aa/b-a", "]/ab/#a/*", "[/?", "a b/\\/a", "*/*/[/b", "a/ab", "*/b-a", "\\/?/ab"], "docker": "10000000"}
{"text": "**a\n**/#*#[a-b]^a\n?a", "paths": ["*/a b", "[/ab", "\\/!a", "aa/a b/]", "aa/[/*/ba", "aa", "ba/]", "?/!a/a b/aa"], "docker": "00111111"}
{"text": "b/!?\n\\?\n#[a-b]**-.\n-/\\*[a-b]/!", "paths": ["\\", "]", "!a", "b/b-a/*/*", "aa/aa/a?/a", "?/aa/x/?", "[", "ba"], "docker": "00000100"}
{"text": "\\..\\*/\nb-***/[^a]//\n[a-b].#/b!\n!b*b\\*", "paths": ["a b/a b/a b/#a", "aa", "]", "]/b-a/*/x", "a.b/b-a/b/[", "b-a/b/b-a/*", "b-a", "?/a.b"], "docker": "00000100"}
{"text": "/\n[a-b]*\n!*\nba\\]^b/\n**/a", "paths": ["ab", "aa", "ab/b/b-a", "?", "a b/b/a.b", "x/aa/a", "a b/a.b", "\\/a.b"], "docker": "00000100"}
{"text": "a\nb**][^a]\nab?**/\n.#*b", "paths": ["]/ab/\\", "b-a", "\\/b/[/a b", "aa", "b/a b/a/[", "aa/[/#a/!a", "b/a?", "a?"], "docker": "00000000"}
{"text": "#b\\*\na/[a-b]a*b**\n*a*[a-b]**[a-b]", "paths": ["ba/?/a/*", "[/!a", "aa/?/x/]", "ba", "#a/b-a/b-a", "a.b/ab/b", "a?", "?"], "docker": "00000100"}
{"text": " /a/^[^a]/\n*[^a]ab/a\n\\*\\**/ [^a]", "paths": ["]/ba/*/?", "ab/aa/b/aa", "a?/]/]/]", "?/ab/a", "?/]/*/a.b", "a b/a?/a.b", "b-a/!a", "#a/b-a"], "docker": "00010000"}
{"text": "]*a\\*\n^\n-#\nb/\n# ", "paths": ["a", "!a/ab/*", "\\/b-a", "a.b/x/b/#a", "aa/b", "a?", "[/a/ab/x", "ab/ba"], "docker": "00000000"}
{"text": "b[a-b]", "paths": ["ba/?/b-a/[", "#a/]/\\", "ab", "x/b-a/a", "x/?/ab", "]", "x", "[/a.b"], "docker": "10000000"}
{"text": "*b*[[^a]\n ", "paths": ["#a/a/aa", "a?/*/[/x", "b-a/\\", "b-a/x/[/a", "ba", "a.b/a/\\/ab", "a?/\\", "a?/]/*/?"], "docker": "00111000"}
{"text": "? \n^[a-b]", "paths": ["b/\\/a.b", "a/#a/x", "ab/a/b-a/*", "\\/]/a b/#a", "x/a?/ba/x", "ba", "?", "a?"], "docker": "11011010"}
{"text": "^\n[a-b]", "paths": ["aa/*", "a", "\\/ab", "aa/b/b/\\", "a b/\\/?/b-a", "[", "#a/?/]", "#a/a?/?/x"], "docker": "01000000"}
{"text": "a", "paths": ["b/#a/*/#a", "a/b-a", "a?/ab", "ba", "?", "b-a/!a", "!a/aa/\\", "aa"], "docker": "01000000"}
{"text": "!]a//\na\n\\****b[a-b]\n\\*]!]\\*/ ", "paths": ["]/a?", "ab/?", "]/#a/a b/[", "a?/a.b", "x/a/\\", "a?/a b/b", "a?/a?", "!a/[/\\/]"], "docker": "00000000"}
{"text": "a?\\*#\\*\\.\n\\!b\n[[^a].**/b\n]/*\n !.^a**", "paths": ["a b/ab/ab", "?/x/a?/a.b", "ab", "aa/aa", "?", "[/a", "ab", "["], "docker": "00000000"}
{"text": "#a-\n^a\n[a-b]**/\n^!\n-\\***/", "paths": ["a/[/a.b", "ba", "b/ab/[/#a", "!a/ba", "#a/\\", "a?/ba/a?/*", "!a/#a", "#a/]/ab"], "docker": "11100100"}
{"text": "[a-b]", "paths": ["b/b/aa/?", "a/*/!a", "aa/a?", "!a/]", "aa/b", "a/x", "b", "x"], "docker": "11000110"}
{"text": "/*[#[^a]\\^\na*b\n[^a]a*!*\n\\[a-b]\n[a-b]/", "paths": ["\\", "*/ba", "\\/*", "a?", "ab/b", "\\/ab/]/*", "[/a?", "#a/a.b/a.b"], "docker": "00001000"}
{"text": "-**/[a-b]\\-/\nb\n?b**[a-b]\n?/b\\*", "paths": ["*/!a/ba/a.b", "aa/x", "*/!a/#a", "a?/ab/#a/*", "a.b/ab/?/\\", "!a/a?/*", "b", "ba/aa"], "docker": "00000010"}
{"text": "\\] \n*[^a]**/[^a][a-b]", "paths": ["b-a/x", "]/[/#a", "a/b/!a/a", "a/]", "*/*/#a/a?", "*", "!a/a?", "a?/["], "docker": "11101000"}
{"text": "a\n**/**/\\*a#\n***** **", "paths": ["\\/a/#a", "b/a b/a b/?", "\\/b-a/?/a", "[/]/a.b/b", "a/b/a.b", "#a/a/a/[", "ba/]/?", "ab"], "docker": "01001000"}
{"text": "****/ -a*\n]*a\n[a-b]/!a\n.!./\n^[a-b]", "paths": ["b-a/ab", "b/]/b-a", "ba/]/a/[", "b-a", "b/[/\\", "*", "?", "x/\\"], "docker": "01001000"}
{"text": "***b\n[[a-b] ]#", "paths": ["a?/a.b/b-a/[", "\\", "ba/]/ab", "[", "!a/a.b/a?/*", "a?", "a b/ba/b-a/]", "?"], "docker": "10101010"}
{"text": "b/\nb**-^[a-b]", "paths": ["*", "b-a/ab/]", "a b/ab", "!a/?", "\\/aa", "aa", "ba", "\\/b-a/a b/]"], "docker": "00000000"}
{"text": "**a\\*/\n.**/?^?a*\n*[^a]/\n[^a]^!*.#\n-] */]", "paths": ["ab", "a.b/a?", "a/a.b/#a", "a?/b", "a.b", "ba", "b/!a/ba/?", "!a/#a/*/]"], "docker": "11011010"}
{"text": "..[a-b]a.b\n[^a][[^a]", "paths": ["b-a", "x/!a", "!a/!a", "b/]", "b-a/ba/a b", "?/b/b-a", "#a", "a/a?/a?"], "docker": "00100010"}
{"text": "**[a-b]****/\\*", "paths": ["?/?", "a.b/a/x", "aa", "?", "?/b/a.b/ab", "b", "ba/]", "aa/x/["], "docker": "00000000"}
{"text": "!#]\n*b\nba. bb/", "paths": ["b-a/aa/a?/#a", "x/#a/a?", "aa/x", "*/a b/[", "*/a/x", "*/b-a", "b-a", "!a/b"], "docker": "00000000"}
{"text": "**/a\n][^a]", "paths": ["ab/#a", "!a/*/!a/aa", "b/b-a", "aa/a/b-a", "#a/x/\\", "?/a?/ba/b", "a?/\\/?/a", "]/a?/\\"], "docker": "00010010"}
{"text": "*/*a\na!\\*[a-b]/\nb#/\na]//a^", "paths": ["]/x/\\/*", "x/a/ba", "a.b/a?", "x/*/a b/!a", "x/\\/ab", "?/#a/\\/ab", "ba/ba", "a"], "docker": "01000110"}
{"text": "*-\n#-! \n.**/\\-b\n\\?]*[[a-b]b\nb*", "paths": ["!a/]/!a", "a b/a/*", "[", "a.b/a", "*/\\/!a/b", "\\/]/a.b", "ba/!a", "aa"], "docker": "00000010"}
{"text": "[^a]a", "paths": ["x/\\/*", "x/a?/b-a/aa", "!a", "[/a/?", "aa", "#a", "?/b/]", "\\/]/b"], "docker": "00100100"}
{"text": "*/**/b?\nb\\*", "paths": ["?/\\/]/a?", "a.b/a/#a", "?/ba/ab", "b", "*/a?/a.b", "ab/x/a?/*", "a?", "?"], "docker": "00100000"}
{"text": "]b\n[a-b]/?**/[^a]\na]*/*.\n]!^**.", "paths": ["!a/?/*", "b/\\/a/#a", "aa/*", "!a", "!a", "b/?/ab/b", "#a/\\", "b-a/\\/ba"], "docker": "00000100"}
{"text": "-a\\ ?\\**\n[a-b]/", "paths": ["*", "#a/a b/a b", "*/x/]", "aa/b-a/\\", "a/?", "ba/*/b-a/]", "a?/#a", "]/*/b"], "docker": "00001000"}
{"text": "/.b]\n*[^a]a\nb[^a]\n/", "paths": ["x/x", "a/a b/ab", "a?", "#a", "ba/ab", "?/?", "?", "]/b-a/b-a"], "docker": "00011000"}
{"text": "?\n  ].", "paths": ["b/\\", "x/x/[/a", "\\/a b/a b/[", "b-a/b-a/#a/*", "#a/ba", "x/!a/a.b", "?/b-a/]/ba", "?/]/!a"], "docker": "11100111"}
{"text": "[[a-b]* \n#\n^a/#/\n]^\n/?]/[^a]/", "paths": ["a b/a b/a.b", "ab", "]/a?", "]/?/ab", "\\/\\/*/!a", "b/b/ab/aa", "a/\\/a?", "a.b/b-a/\\"], "docker": "11000111"}
{"text": "a.*a^/\n!a\nb[^a]b \\[/\n[^a][^a]**[^a]", "paths": ["a/[", "*/a/a b", "a/?/[/]", "[/]/b/aa", "\\/b-a/[", "#a/ab", "x", "ba/\\/a.b/a?"], "docker": "00011000"}
{"text": "b?\n**a**\n-****\na", "paths": ["b/b-a/aa/?", "*", "]/a", "b-a/a.b", "b-a/#a", "a b/#a", "#a/?/a", "\\/[/["], "docker": "10110110"}
{"text": "**/a/\n^-**/b*", "paths": ["!a/]/x/a.b", "b/a/a?", "\\", "a?/*", "ba", "?/\\/#a", "x/aa/aa/]", "b/#a"], "docker": "01000000"}
{"text": "!**\n^a*\na[a-b]?. \n??\n.[^a]", "paths": ["\\/a", "aa/]/ab/[", "a.b/ab", "b", "x/?", "b/a.b", "\\/aa/ba", "a.b/?/ab"], "docker": "01100001"}
{"text": " b/**\n**a!", "paths": ["aa/a?/a?/?", "b/a/[", "x", "a b/ba/?", "x", "aa/a.b", "a.b", "a"], "docker": "01000000"}
{"text": "aa/^?\n? ", "paths": ["[/a?", "ba/*/x/b", "x/aa", "[", "b/a?/aa/b-a", "a/ab", "a/b-a/x/a b", "#a/*"], "docker": "10111110"}
{"text": "*a?**/\n**/#-**[a-b]\n!#", "paths": ["\\", "ba", "a?/]/b", "[/a", "a/[", "ab", "[/b-a", "a.b/b"], "docker": "00100101"}
{"text": "??", "paths": ["x/a.b", "x", "ab/a b/#a", "*", "x/ba", "aa/b/a", "ba/!a", "b"], "docker": "00100110"}
{"text": "**b*!\nb**a", "paths": ["a b", "a/x/#a/ab", "ab", "a.b/[/b-a", "a/\\/ba", "ba/aa/aa", "[", "a.b/a.b"], "docker": "00000100"}
{"text": "?/", "paths": ["*", "]/?/aa/]", "a.b", "]/a?/a?/#a", "!a/ba/]", "?", "a b", "#a/]/x"], "docker": "11010100"}
{"text": "!*[a-b]b*\nb\na]-**/[^a]\n[[a-b] ", "paths": ["*", "b-a/[/a.b", "aa/x/\\", "b/!a/#a/ba", "?/a?/a/*", "b-a", "]/b", "\\/!a"], "docker": "00010000"}
{"text": "[^a]/[a-b]\n\\*.[a-b]**\n.ab\\#!*", "paths": ["a.b/x", "a.b", "a?", "a.b/[/]", "b/ba/*", "#a", "ab/a?", "ba"], "docker": "00000000"}
{"text": "]\na", "paths": ["a.b/]/[", "a/aa/!a/*", "]/]/a?/aa", "a.b/ba/aa/b", "x/a?/b/b", "]", "x/a b/a b", "b/?/ba/a.b"], "docker": "01100100"}
{"text": "[!aa[[^a]", "paths": ["a/a?", "a.b/#a/b-a/a?", "?", "ba/]", "x", "ab", "b/?", "a/b"], "docker": "10000001"}
{"text": "**b- [a-b]#\n\\*", "paths": ["a b/aa/?", "b/#a", "a?/[/*/b-a", "a b/ab/b-a", "a/a b/\\/b-a", "a?/]/!a", "b-a/!a/[/a.b", "["], "docker": "00000000"}
{"text": "b[a-b]\n\\^b[^a].^\n.\n\\#**/]**\nb", "paths": ["\\/[/#a", "x/\\/x", "a b/ba/*", "ab/]/a b", "aa/*/ba/!a", "x", "ab/b-a/a.b/\\", "?/#a/a"], "docker": "00000000"}
{"text": "/**/b^/^\na**.*b/**\n[a-b]**/[a-b]\na.", "paths": ["ba/\\/]/b", "a/!a/#a/x", "]/a.b", "!a/x", "aa/b-a/ab", "*/a.b/b-a/x", "a", "ba"], "docker": "10001001"}
{"text": "** b \n.", "paths": ["!a/a?/ba", "*/aa/b/b", "]/[/#a/?", "]", "aa", "ba", "a b/[/\\/\\", "?"], "docker": "00000010"}
{"text": "a\n\\**\n/[a-b]\n* \\*a", "paths": ["[", "a?/a.b/a", "*/!a", "b/[/b/[", "a b/aa/a?", "x/#a", "x", "a.b/b/a.b/a"], "docker": "00110000"}
{"text": "?\nb**/\n\\[a-b]!b-. ", "paths": ["b", "#a", "#a/\\", "a b", "ab/ba", "?/?", "*/a/a", "a.b/\\"], "docker": "10000110"}
{"text": ".[^a]a*\\]\n?", "paths": ["*", "a.b", "*/a.b/a.b/#a", "\\/*", "a.b/b-a", "ab/[/*/!a", "#a/!a/ab/#a", "b"], "docker": "10110001"}
{"text": "^bb]\n[^a]", "paths": ["b/#a", "[/a b", "a?/#a/*", "a/#a/!a/#a", "x", "[/x", "[/x/]/b", "a.b/a b/a.b"], "docker": "11001110"}
{"text": "#/\\*\n^?[^a]a/\\\\\n**/**/a\n/ b*/-?", "paths": ["a.b/a b/?", "x", "!a", "b-a/b/aa/x", "#a/a.b/ab", "a.b", "ba/a.b/x/]", "a?/a b/a b/]"], "docker": "00000000"}
{"text": "ab\n/\n//***/[^a]\n#\n.*", "paths": ["a/*/\\", "?/ba/*/*", "a/b", "a?", "ab/!a/b/[", "a", "b-a/b-a", "a b/\\"], "docker": "11101001"}
{"text": "ab?*b/\na***b\n**/.#[a-b]b", "paths": ["]", "x", "a?/aa/b/b", "#a/!a/ab", "x/*/aa/a.b", "?/\\/#a/]", "x/a/b-a", "aa"], "docker": "00100000"}
{"text": "^b**\\*!/a\n[^a] ", "paths": ["b/?/?/\\", "ab/*", "ba/*/b", "b-a/a/]", "a.b/a b/aa/a b", "a/x/ba", "a/\\/a", "!a"], "docker": "10000000"}
{"text": "#**/\\/*\n*b*\\#\\*\n*\\**", "paths": ["x/x/\\/ba", "b-a/a b", "[/a", "]/!a", "a/aa/[/ab", "[/\\/a?/*", "aa/aa/?", "a/b-a"], "docker": "00000000"}
{"text": " !**/\na\n^[[a-b]?[a-b]\n /\\*/-/", "paths": ["a.b/aa/[", "x/b-a", "b-a", "a.b", "*/b-a/\\/aa", "#a/?/b-a/ba", "b-a", "a.b/]/!a"], "docker": "10110011"}
{"text": "***ba**/ \n */**/**/\n.", "paths": ["*/ab/b/ba", "?/x/#a", "b/x/ba", "!a/!a/\\", "b/[", "!a", "ba/\\", "aa/a?/a/!a"], "docker": "11111011"}
{"text": "?\n.^*/\n!#***b/a\n?a\n[a-b]", "paths": ["[", "a.b/]", "ab/]", "[", "!a/\\/?", "a.b", "ab", "]/ba/[/aa"], "docker": "10011001"}
{"text": "#\n-/**/[^a]-?\n**\\*", "paths": ["ab/*/?/!a", "ba/\\", "a/*", "!a/x/a?/?", "[/b-a", "*", "[/a/a", "a.b/\\/ab/b"], "docker": "10100100"}
{"text": "?[b[^a]\n /\\\\*b*\n*^ **/", "paths": ["b-a/?/a.b", "x/a.b/ab/aa", "a/b-a", "aa/ba/ab/[", "b-a/a/?/b-a", "?/a.b/#a/ab", "b-a/a b", "ba/*"], "docker": "00010001"}
{"text": "**/\\^\n#**!#-*\n[a-b]\nb\\**a.\n#b*!**/-", "paths": ["ba/a/*", "a?", "x/?/\\/ba", "?", "a?/x/aa/a b", "#a/x/a b", "*/a?/[", "a"], "docker": "00000001"}
{"text": "-.a/!\n*[a-b]***aa\n^**/[^a]?\na#**a**]", "paths": ["*", "!a/b", "\\/b/a/a", "x/a?/x/a", "?", "?/!a/a", "\\", "ba/x"], "docker": "01000101"}
{"text": "[a-b]\\[^a]/[^a]\n[^a]/***/", "paths": ["aa/a b", "b/*/ab/a.b", "ba/b-a", "!a/b-a", "a/b/]/[", "x", "x/*/[/aa", "*"], "docker": "01000010"}
{"text": "[/b[a-b]\n#/[b-[[", "paths": ["a/aa", "ba/ba", "b-a", "?", "\\/ba/x/a", "a/ab/a b", "aa/b/aa", "ab/ba/#a"], "docker": "10000100"}
{"text": "aa\n^**#[^a]^**[^a]", "paths": ["a b/b-a/a?/?", "a", "x/?", "b", "x/!a/*/\\", "aa/a?/aa", "ab/[/[", "aa"], "docker": "00000101"}
{"text": "?", "paths": ["aa/]", "!a/?/b-a/a", "ba/[/a.b", "*/!a", "!a/a.b/b", "a.b/b", "[/[", "b-a/a"], "docker": "00010010"}
{"text": "\\#]/ \n*\\*^-^[^a]\n]#/\n*/?**\na[a-b]**", "paths": ["!a/x/#a/a.b", "x/*/?/ba", "x/ba/a", "b-a", "!a", "ab", "a/*/a.b", "a.b/a"], "docker": "11100111"}
{"text": "[^a]^\n***[^a] ", "paths": ["[/x/aa/b-a", "b", "b-a/b-a/ab", "#a/#a/b-a/a.b", "x/a?/ba", "#a/a", "*/a?/!a", "x/#a/a b/#a"], "docker": "11111011"}
{"text": "*b", "paths": ["#a", "a?/?/a.b", "?/a/x/a?", "ba", "b-a", "*/*/b", "aa/\\/aa/ba", "ab/ab"], "docker": "00000001"}
{"text": "^-[^a]\na[^a]*b\n\\*]?", "paths": ["\\/!a/a?", "]/\\", "]/a b", "a/b/ab", "[", "aa", "b-a/aa", "ab/ba/!a"], "docker": "00010000"}
{"text": "[^a]a??]\n/\n]**\\*\n/a*", "paths": ["aa/a.b/*/]", "a", "ab", "?/b-a/a", "a.b/b-a/!a", "a.b", "ba/\\", "a?/x"], "docker": "11101101"}
{"text": "a-/#\na[^a]\na", "paths": ["b-a/#a/a b", "a.b/!a", "?/?/a?/]", "[/a?/ab/aa", "a.b/[", "a?/#a", "a b/x/a", "\\/!a"], "docker": "00000100"}
{"text": "[a-b]**/!\\*!?\n?**#!**b\n^a\n**^?\n/\\*", "paths": ["[/a?/*", "b-a/a/a", "a.b/*/]/a", "?/]", "]/ba/aa", "aa/a?/*", "\\/?", "[/x/*"], "docker": "10011011"}
{"text": "\\***]**]#\n[a-b]**/#*\na\\*\nab", "paths": ["x/a b/a.b/\\", "*", "*/]", "b/]", "*/ab", "a.b/?", "b-a/[", "a b/#a"], "docker": "00000001"}
{"text": "[ a[a-b]", "paths": ["a", "\\/a b/ba", "!a/a b/a?/x", "!a", "a", "\\/ab/]/#a", "[/ab", "#a/[/a b"], "docker": "10001010"}
{"text": "*?**b\n]a^.-[^a]", "paths": ["]/[/a.b/aa", "#a/*/ab", "a.b/ab/a.b/a?", "[/a.b", "a.b/aa", "a b/?/!a", "]/x/]/a b", "]/aa"], "docker": "00101100"}
{"text": "**?", "paths": ["aa/a.b", "a/[/ba", "a?/ba/ab", "x/ba/a b/a b", "!a/b/ba", "\\/*/a b/a", "]/b-a/ba/*", "ba/a b/!a"], "docker": "01011110"}
{"text": "[a-b]\\*?a/\na*/", "paths": ["!a/b/?", "*/b/x", "?/a/*/#a", "!a/ba/ba", "a/b/a b/*", "a.b/ab", "a b/?/b-a", "#a/a?/a b/a?"], "docker": "00001110"}
{"text": " b\\*\n.\\****/a\n#.][^a]**\n?", "paths": ["!a", "*", "x/]", "ab", "!a/?/!a/ba", "]/b-a/a?", "b-a", "a/b-a"], "docker": "01100101"}
{"text": "^?\n*.?/\n\\]\n-b ]!", "paths": ["[", "a.b", "*/aa/!a/#a", "#a", "?/aa", "#a", "ba", "#a"], "docker": "11101000"}
{"text": "b-\n[!/[a-b]", "paths": ["b-a/\\/?/aa", "a.b", "aa", "a/]/a?", "]/]/a", "*/!a", "aa", "x"], "docker": "00010000"}
{"text": "a\n*b/\n*^ \n*\\*a\\**-.\n\\* \\[/", "paths": ["ab", "[/b-a/]", "[/]/\\", "b-a/\\/#a", "!a/aa/*", "[/[", "x/#a/*/?", "a.b/b"], "docker": "10000001"}
{"text": "/b**ba\\*.\n?\n*/\\*ab", "paths": ["x/aa/?", "*/\\/a", "b/x/*", "b/[", "aa/a.b", "aa/b/aa", "#a/\\/x/x", "b-a/a.b/b/ab"], "docker": "11110000"}
{"text": "b\n/**b?/ ", "paths": ["aa/#a/x/a", "a.b/]", "ba/[/*/ba", "ba", "#a/*", "!a", "ab", "*/a/ba/\\"], "docker": "00110001"}
{"text": "?]a^b*\n[a-b]?", "paths": ["#a/a b/a/]", "!a", "a?/]", "?/[", "*", "\\", "#a/[", "]/a.b/#a/ab"], "docker": "00100000"}
{"text": "*#[a-b]^**]\n/\\*\nb\nb\\***/a-]a", "paths": ["a.b/]/b", "b/a", "a?/x/ab", "]/#a", "*", "a.b/!a/#a/aa", "ab", "\\"], "docker": "01001000"}
{"text": "node_modules\n**/*.log\n!important.log\n.git\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "1100011110000100000000"}
{"text": "*\n!src\n!Dockerfile\nsrc/**/*.log\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "1100111111111111101111"}
{"text": "**/node_modules\n/target\n*.md\n!README*.md\nREADME-secret.md\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "1110100000001000000000"}
{"text": "build\n!build/keep\n**/tmp\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "0000000000000001001100"}
{"text": "# comment\n  # not\n./logs/\n!logs/keep.log\ndata/*\n!data/keep\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "0000010000000000000010"}
{"text": "**\n!**/*.rs\n!Dockerfile\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "1110111111111111101111"}
{"text": "*/*.log\n*/*/*\n!src/main.rs\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "0110110110000001101011"}
{"text": ".*\n!.gitignore\n", "paths": ["node_modules", "node_modules/x/index.js", "src/node_modules/y.js", "src/main.rs", "target/debug/app", "logs/a.log", "a.log", "src/b.log", "logs/keep.log", "important.log", "docs/README.md", "README.md", "README-secret.md", ".git/HEAD", ".gitignore", "build/out/bin", "build/keep/me.txt", "Dockerfile", "x/y/z/tmp/t", "tmp", "data/cache/f", "data/keep/f"], "docker": "0000000000000100000000"}
"####;

const REJECTED: &str = r####""!**\n!?]!\n]- ***b[\nb^#"
"#\n**[a-b]/^ab["
"*\n][^a][^a] a\n["
"****/\\"
"[\\"
"![a"
"].[\n[/"
"\\*#[^a]\\\nb**/]**/]^"
"\\.[\n-]ab/\n?**/*!\\*a "
"*\nb["
"!\nb.\\*\nb\nb?.?^"
"].-**\n**/***/a\na[a-b][/ "
"[a-b].\n!"
"[a-b]* ^b#\n!"
"[^a]#\n\\*!.b!!*\n/?^**\n[\nb"
"-b[a-b]\n\\"
"!\nb[a-b]b[a-b]-"
"[^a] a**\n\\*\n["
"!\n-**/**^[^a]"
"a**//**/[-[^a]\n**"
". [^a]*\\\n^"
"**/^\\\n]\\?**\n*?[a-b]/\nb*"
"-*b*^\n[[\n "
" !b**/\nb\n**/*/[a"
"??\n-]\\*b.[b\n-\n[^a]b"
"####;

#[test]
fn agrees_with_docker_on_every_golden_case() {
    let mut checked = 0;
    for line in CASES.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("golden line is JSON");
        let text = case["text"].as_str().expect("text");
        let docker = case["docker"].as_str().expect("docker");
        let di = DockerIgnore::parse(".dockerignore", text)
            .unwrap_or_else(|e| panic!("Docker accepts {text:?}, we said: {e}"));
        let paths = case["paths"].as_array().expect("paths");
        assert_eq!(paths.len(), docker.len());
        for (path, verdict) in paths.iter().zip(docker.chars()) {
            let path = path.as_str().expect("path");
            assert_eq!(
                di.is_excluded(path),
                verdict == '1',
                "patterns {text:?}, path {path:?}: Docker says excluded={}",
                verdict == '1'
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} golden checks ran");
}

#[test]
fn rejects_what_docker_rejects() {
    let mut n = 0;
    for line in REJECTED.lines() {
        let text: String = serde_json::from_str(line).expect("golden line is JSON");
        assert!(
            DockerIgnore::parse(".dockerignore", &text).is_err(),
            "Docker rejects {text:?}"
        );
        n += 1;
    }
    assert!(n >= 20);
}
