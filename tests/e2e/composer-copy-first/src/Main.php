<?php
namespace App;

class Main
{
    public static function run(): void
    {
        echo \Greet\Hello::text(), "\n";
    }
}
